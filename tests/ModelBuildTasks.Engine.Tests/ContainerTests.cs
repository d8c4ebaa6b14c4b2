using System.Buffers.Binary;
using System.IO.Compression;
using ModelBuildTasks.Container;
using ModelBuildTasks.Data;
using ModelBuildTasks.Graph;
using ModelBuildTasks.Packaging;
using ModelBuildTasks.Passes.Quantization;
using Xunit.Abstractions;

namespace ModelBuildTasks.Engine.Tests;

public class ContainerTests(ITestOutputHelper output)
{
    static readonly ImageDataset Calibration = DatasetSplit.Sample(DatasetLoader.Load(TestPaths.FashionTrain), 128, seed: 2);
    static readonly ContainerMetadata Metadata = new()
    {
        Labels = ["a", "b"],
        Preprocess = "mean=0;std=1",
        Compression = new SortedDictionary<string, string> { ["bits"] = "8", ["methods"] = "iq" },
        Accuracy = new AccuracyFigures(0.9, 0.89, null),
    };

    static OnnxModel Quantized(string family) => QdqQuantizer.Quantize(
        family switch { "plain" => TestModels.Plain(), "residual" => TestModels.Residual(), _ => TestModels.Dense() }, Calibration).Model;

    [Theory]
    [InlineData("plain")]
    [InlineData("residual")]
    [InlineData("dense")]
    public void RoundTrip_GivesTheSameOnnxModel_AndIsDeterministic(string family)
    {
        var model = Quantized(family);
        var bytes = ContainerPackaging.Pack(model, Metadata);
        Assert.Equal(bytes, ContainerPackaging.Pack(Quantized(family), Metadata)); // same inputs, same bytes

        var (container, metadata) = ContainerPackaging.Read(bytes);
        Assert.Equal(Metadata.ToJson(), metadata.ToJson());
        var original = OnnxExport.ToBytes(model);
        var decoded = container.ToOnnx();
        var input = TestModels.RandomInput(1, 3, 1, 28, 28);
        Assert.Equal(Ort.Run(original, input, [3, 1, 28, 28])["logits"], Ort.Run(decoded, input, [3, 1, 28, 28])["logits"]);
        // Every tensor comes back bit for bit.
        for (var i = 0; i < container.Tensors.Count; i++)
            Assert.Equal(model.Graph.Initializers[container.Tensors[i].Name].Data, container.DecodeTensor(i));
    }

    [Fact]
    public void Container_IsNoBiggerThanGzipOfTheInt8Onnx()
    {
        var model = ModelFile.Load(TestPaths.ResNet18);
        var images = DatasetLoader.Load(TestPaths.FashionTest, PreprocessSpec.Parse("resize=224x224;channels=3"), limit: 8);
        var quantized = QdqQuantizer.Quantize(model, images).Model;
        var onnx = OnnxExport.ToBytes(quantized);
        var container = ContainerPackaging.Pack(quantized, Metadata);
        var gzip = new MemoryStream();
        using (var z = new GZipStream(gzip, CompressionLevel.SmallestSize, leaveOpen: true)) z.Write(onnx);
        output.WriteLine($"ResNet-18: fp32 {new FileInfo(TestPaths.ResNet18).Length:N0}, int8 ONNX {onnx.Length:N0}, gzip {gzip.Length:N0}, container {container.Length:N0}");
        Assert.True(container.Length <= gzip.Length, $"container {container.Length} > gzip {gzip.Length}");
    }

    [Fact]
    public void EveryTruncation_IsAFormatError()
    {
        var bytes = ContainerPackaging.Pack(Quantized("plain"), Metadata);
        for (var length = 0; length < bytes.Length; length += Math.Max(1, length / 50))
        {
            var cut = length;
            var e = Record.Exception(() => ModelContainer.Read(bytes[..cut]));
            Assert.True(e is ContainerFormatException, $"a container cut to {cut} of {bytes.Length} bytes: {e?.GetType().Name ?? "read without error"}");
        }
    }

    [Fact]
    public void FlippedBytes_AreDetected_AndNeverCrashTheReader()
    {
        var bytes = ContainerPackaging.Pack(Quantized("residual"), Metadata);
        var container = ModelContainer.Read(bytes);
        var tableEnd = Entries(bytes).Last().End;
        var detected = 0;
        for (var i = 0; i < bytes.Length; i += 7)
        {
            var damaged = bytes.ToArray();
            damaged[i] ^= 0x5A;
            try
            {
                ModelContainer.Read(damaged).ToOnnx();
                // Only alignment padding is not covered by a checksum.
                Assert.DoesNotContain(container.Tensors, t => i >= t.Offset && i < t.Offset + t.StoredLength);
                Assert.True(i >= tableEnd, $"a flip at byte {i} in the index went unnoticed");
            }
            catch (ContainerFormatException) { detected++; }
        }
        Assert.True(detected > 0);
    }

    [Fact]
    public void HugeDeclaredSizes_FailBeforeAllocating_EvenWithAValidChecksum()
    {
        var bytes = ContainerPackaging.Pack(Quantized("plain"), Metadata);
        var (tableOffset, nameLength, _, _) = Entries(bytes).First(e => e.Rank > 0); // an entry with at least one dimension

        var crafted = bytes.ToArray();
        BinaryPrimitives.WriteInt64LittleEndian(crafted.AsSpan(tableOffset + 2 + nameLength + 4), 1L << 40); // first dimension
        Reseal(crafted, bytes);
        var error = Assert.Throws<ContainerFormatException>(() => ModelContainer.Read(crafted));
        Assert.Contains("dimension", error.Message);

        crafted = bytes.ToArray();
        BinaryPrimitives.WriteUInt64LittleEndian(crafted.AsSpan(24), ulong.MaxValue); // metadata length
        Reseal(crafted, bytes);
        Assert.Throws<ContainerFormatException>(() => ModelContainer.Read(crafted));

        crafted = bytes.ToArray();
        BinaryPrimitives.WriteUInt32LittleEndian(crafted.AsSpan(56), 999_999); // tensor count
        Reseal(crafted, bytes);
        Assert.Throws<ContainerFormatException>(() => ModelContainer.Read(crafted)); // runs past the real table into data, never allocating a million entries

        crafted = bytes.ToArray();
        crafted[tableOffset + 2 + nameLength + 1] = 9; // an encoding that does not exist
        Reseal(crafted, bytes);
        Assert.Contains("unknown encoding", Assert.Throws<ContainerFormatException>(() => ModelContainer.Read(crafted)).Message);
    }

    [Fact]
    public void WrongMagicOrVersion_AreNamed()
    {
        var bytes = ContainerPackaging.Pack(Quantized("plain"), Metadata);
        var v2 = bytes.ToArray();
        v2[8] = 2;
        Assert.Contains("version 2", Assert.Throws<ContainerFormatException>(() => ModelContainer.Read(v2)).Message);
        Assert.Contains("magic", Assert.Throws<ContainerFormatException>(() => ModelContainer.Read(new byte[100])).Message);
        var error = Assert.Throws<ModelBuildException>(() => ContainerPackaging.Read(v2, "x.cmodel"));
        Assert.Equal(ErrorCodes.InvalidContainer, error.Code);
    }

    [Fact]
    public void ModelFile_LoadsContainersLikeOnnxFiles()
    {
        using var temp = new TestPaths.TempFolder();
        var model = Quantized("plain");
        File.WriteAllBytes(temp.File("m.cmodel"), ContainerPackaging.Pack(model, Metadata));
        var loaded = ModelFile.Load(temp.File("m.cmodel"));
        Assert.Equal(model.Graph.Nodes.Count, loaded.Graph.Nodes.Count);
        Assert.Equal(model.Graph.Initializers.Count, loaded.Graph.Initializers.Count);
    }

    // Where each tensor table entry starts, its name length and rank, and where it ends.
    static List<(int Start, int NameLength, int Rank, int End)> Entries(byte[] file)
    {
        var entries = new List<(int, int, int, int)>();
        var cursor = (int)BinaryPrimitives.ReadUInt64LittleEndian(file.AsSpan(48));
        var count = BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(56));
        for (var i = 0; i < count; i++)
        {
            var nameLength = BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan(cursor));
            var rank = file[cursor + 2 + nameLength + 2];
            var end = cursor + 2 + nameLength + 4 + 8 * rank + 32;
            entries.Add((cursor, nameLength, rank, end));
            cursor = end;
        }
        return entries;
    }

    // Recomputes the index checksum after a deliberate edit, so that the reader's other checks are what is tested.
    static void Reseal(byte[] crafted, byte[] original)
    {
        var metadataOffset = (int)BinaryPrimitives.ReadUInt64LittleEndian(original.AsSpan(16));
        var tableEnd = Entries(original).Last().End;
        var crc = Crc32.Append(0, crafted.AsSpan(0, 60));
        crc = Crc32.Append(crc, crafted.AsSpan(metadataOffset, tableEnd - metadataOffset));
        BinaryPrimitives.WriteUInt32LittleEndian(crafted.AsSpan(60), crc);
    }
}

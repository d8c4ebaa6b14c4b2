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
    public void TheModelInside_RecordsTheContainersPreprocessingAndLabels()
    {
        // A model compressed with --preprocess kept its own stale entry, which evaluate then read.
        var model = TestModels.Plain();
        model.Metadata["preprocess"] = "scale=1";
        var bytes = ContainerPackaging.Pack(model, Metadata with { Preprocess = "mean=0.2;std=0.5" });
        var inside = OnnxImport.ToModel(Onnx.OnnxModelFile.Parse(ContainerPackaging.ToOnnx(bytes)));
        Assert.Equal("mean=0.2;std=0.5", inside.Metadata["preprocess"]);
        Assert.Equal("a,b", inside.Metadata["labels"]);
        Assert.Equal("scale=1", model.Metadata["preprocess"]); // the caller's model is left alone
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
    public void FlippedBytes_AreAllDetected_AndNeverCrashTheReader()
    {
        // Version 2 has no padding: the two checksums cover every byte of the file.
        var bytes = ContainerPackaging.Pack(Quantized("residual"), Metadata);
        var missed = new List<int>();
        for (var i = 0; i < bytes.Length; i += 7)
        {
            var damaged = bytes.ToArray();
            damaged[i] ^= 0x5A;
            try
            {
                ModelContainer.Read(damaged).ToOnnx();
                missed.Add(i);
            }
            catch (ContainerFormatException) { }
        }
        Assert.Empty(missed);
    }

    [Fact]
    public void HugeDeclaredSizes_FailBeforeAllocating_EvenWithValidChecksums()
    {
        var bytes = ContainerPackaging.Pack(Quantized("plain"), Metadata);
        var parts = CraftedContainer.PartsOf(bytes);
        var k = parts.Entries.FindIndex(e => e.Dims.Length > 0 && e.Encoding == CraftedContainer.Rans);

        var entries = parts.Entries.ToList();
        entries[k] = entries[k] with { Dims = [1L << 40, .. entries[k].Dims[1..]] };
        var error = Assert.Throws<ContainerFormatException>(() => ModelContainer.Read(CraftedContainer.Build(parts with { Entries = entries })));
        Assert.Contains("dimension", error.Message);

        // A metadata length past the index, and a tensor count of almost a million: the index runs out long before.
        var index = CraftedContainer.Index(parts);
        var crafted = index.ToArray();
        crafted[0] = 0xFF; crafted[1] = 0xFF; crafted[2] = 0x7F;
        Assert.Throws<ContainerFormatException>(() => ModelContainer.Read(CraftedContainer.Seal(0, crafted, (uint)crafted.Length, [])));
        var counted = new MemoryStream();
        var (metadata, model, graph) = (System.Text.Encoding.UTF8.GetBytes(parts.Metadata), parts.Model, parts.Graph);
        foreach (var blob in new[] { metadata, model, graph }) { CraftedContainer.Varint(counted, (ulong)blob.Length); counted.Write(blob); }
        CraftedContainer.Varint(counted, 999_999);
        var before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Throws<ContainerFormatException>(() => ModelContainer.Read(CraftedContainer.Seal(0, counted.ToArray(), (uint)counted.Length, [])));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 4L << 20, "a claimed count allocated its entries");

        entries = parts.Entries.ToList();
        entries[k] = entries[k] with { Encoding = 9 };
        Assert.Contains("unknown encoding", Assert.Throws<ContainerFormatException>(() => ModelContainer.Read(CraftedContainer.Build(parts with { Entries = entries }))).Message);
        entries[k] = entries[k] with { Encoding = (byte)TensorEncoding.Brotli }; // a version-1 encoding is not one of version 2
        Assert.Contains("unknown encoding", Assert.Throws<ContainerFormatException>(() => ModelContainer.Read(CraftedContainer.Build(parts with { Entries = entries }))).Message);
    }

    [Fact]
    public void WrongMagicOrVersion_AreNamed()
    {
        var bytes = ContainerPackaging.Pack(Quantized("plain"), Metadata);
        Assert.Equal(2u, ModelContainer.Read(bytes).Version);
        var v3 = bytes.ToArray();
        v3[8] = 3;
        Assert.Contains("version 3", Assert.Throws<ContainerFormatException>(() => ModelContainer.Read(v3)).Message);
        Assert.Contains("magic", Assert.Throws<ContainerFormatException>(() => ModelContainer.Read(new byte[100])).Message);
        var error = Assert.Throws<ModelBuildException>(() => ContainerPackaging.Read(v3, "x.cmodel"));
        Assert.Equal(ErrorCodes.InvalidContainer, error.Code);
    }

    [Fact]
    public void Version1Files_StillRead_ToTheSameOnnxBytes()
    {
        // Written by the version-1 writer before version 2 replaced it: users' caches and built apps hold such files.
        var container = ModelContainer.Read(CraftedContainerV1.Fixture);
        Assert.Equal(1u, container.Version);
        Assert.Equal([TensorEncoding.Raw, TensorEncoding.Brotli, TensorEncoding.Huffman, TensorEncoding.SparseHuffman], container.Tensors.Select(t => t.Encoding).Distinct().Order());
        Assert.Equal("387a3deb2ec1511499a282905cd68cd54e858fb7631f385f049e5b04e9b03f99", Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(container.ToOnnx())));
        using var model = ModelBuildTasks.Runtime.CompressedModel.Load(CraftedContainerV1.Fixture);
        Assert.InRange(model.Predict(new float[model.InputSize]).ClassIndex, 0, 9);
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
}

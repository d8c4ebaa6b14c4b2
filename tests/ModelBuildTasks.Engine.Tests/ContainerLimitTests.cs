using System.Buffers.Binary;
using System.IO.Compression;
using ModelBuildTasks.Container;
using ModelBuildTasks.Packaging;
using ModelBuildTasks.Runtime;

namespace ModelBuildTasks.Engine.Tests;

/// <summary>Defects 4 and 8 of issue #12: a small crafted container must not make a reader allocate gigabytes, and every failure is a ContainerFormatException.</summary>
public class ContainerLimitTests
{
    static readonly byte[] Valid = ContainerPackaging.Pack(TestModels.Plain(), new ContainerMetadata
    {
        Inputs = [new TensorDescription("input", "float", ["N", "1", "28", "28"])],
        Outputs = [new TensorDescription("logits", "float", ["N", "10"])],
        Labels = ["a", "b"],
    });

    // A sparse-huffman tensor with no nonzeros: 4 + 3 + 3 bytes that decode to any length of zeros.
    static readonly byte[] EmptySparse = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

    static long Allocated(Action action)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        try { action(); } catch (ContainerFormatException) { }
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    [Fact]
    public void ATinyTensorClaimingAGigabyte_IsRejectedByTheReader_BeforeAnyDecoding()
    {
        var entries = CraftedContainer.EntriesOf(Valid);
        entries.Add(new CraftedContainer.Entry("bomb", 3, (byte)TensorEncoding.SparseHuffman, [1L << 30], EmptySparse, 1L << 30));
        var crafted = CraftedContainer.Build(CraftedContainer.MetadataOf(Valid), CraftedContainer.GraphOf(Valid), entries);
        Assert.True(crafted.Length < 100_000);

        var error = Assert.Throws<ContainerFormatException>(() => ModelContainer.Read(crafted).ToOnnx());
        Assert.Contains("expansion", error.Message);
        Assert.True(Allocated(() => ModelContainer.Read(crafted).ToOnnx()) < 16L << 20);
        Assert.Throws<ContainerFormatException>(() => CompressedModel.Load(crafted));
    }

    [Fact]
    public void AGraphSectionClaimingHundredsOfMegabytes_IsRejected_BeforeDecoding()
    {
        var graph = CraftedContainer.GraphOf(Valid);
        var body = new byte[BrotliEncoder.GetMaxCompressedLength(graph.Length)];
        BrotliEncoder.TryCompress(graph, body, out var written);
        var section = new byte[8 + written];
        section[0] = 1;
        BinaryPrimitives.WriteUInt32LittleEndian(section.AsSpan(4), 200u << 20); // 200 MiB from a few hundred bytes
        body.AsSpan(0, written).CopyTo(section.AsSpan(8));
        var crafted = CraftedContainer.Build(CraftedContainer.MetadataOf(Valid), graph, CraftedContainer.EntriesOf(Valid), section);
        Assert.Contains("expansion", Assert.Throws<ContainerFormatException>(() => ModelContainer.Read(crafted)).Message);
        Assert.True(Allocated(() => ModelContainer.Read(crafted)) < 16L << 20);
    }

    [Fact]
    public void AnEndlessNonSeekableStream_StopsAtTheFileLimit_InsteadOfGrowingWithoutBound()
    {
        // A valid header, then bytes forever: the reader must give up at its documented limit, reading no further.
        var stream = new EndlessStream(Valid[..64]);
        var before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Throws<ContainerFormatException>(() => ContainerLimits.ReadBounded(stream, limit: 8L << 20));
        Assert.InRange(stream.Served, 8L << 20, 10L << 20);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 24L << 20);
    }

    [Fact]
    public void TheWriter_NeverProducesWhatTheReaderRejects_ForAllZeroTensors()
    {
        var model = TestModels.Plain();
        var weights = model.Graph.Initializers.Values.First(t => t.Data.Length > 1000);
        var zeros = new ModelBuildTasks.Graph.Tensor("zeros", ModelBuildTasks.Graph.ElementType.Float, [1 << 18], new byte[4 << 18]); // 1 MiB of zeros
        model.Graph.AddInitializer(zeros);
        var bytes = ContainerPackaging.Pack(model, new ContainerMetadata());
        var container = ModelContainer.Read(bytes);
        var index = container.Tensors.ToList().FindIndex(t => t.Name == "zeros");
        Assert.Equal(4 << 18, container.DecodeTensor(index).Length);
        Assert.True(ContainerLimits.ExpansionAllowed(container.Tensors[index].StoredLength, container.Tensors[index].DecodedLength));
        Assert.NotNull(weights);
    }

    [Fact]
    public void NullLabelsInTheMetadata_AreAFormatError_NotANullReference()
    {
        var json = CraftedContainer.MetadataOf(Valid).Replace("\"labels\":[\"a\",\"b\"]", "\"labels\":null");
        Assert.Contains("\"labels\":null", json);
        var crafted = CraftedContainer.Build(json, CraftedContainer.GraphOf(Valid), CraftedContainer.EntriesOf(Valid));
        Assert.Throws<ContainerFormatException>(() => CompressedModel.Load(crafted));
        Assert.Throws<ContainerFormatException>(() => ContainerMetadata.Parse(json.Replace("\"labels\":null", "\"labels\":[null]")));
    }

    [Fact]
    public void AGraphOnnxRuntimeRejects_IsAFormatError_NotAnOnnxRuntimeException()
    {
        // Well-formed protobuf with valid checksums, but the model refers to an initializer that is not there.
        var entries = CraftedContainer.EntriesOf(Valid);
        entries.RemoveAt(0);
        var crafted = CraftedContainer.Build(CraftedContainer.MetadataOf(Valid), CraftedContainer.GraphOf(Valid), entries);
        ModelContainer.Read(crafted).ToOnnx(); // structurally fine
        Assert.Throws<ContainerFormatException>(() => CompressedModel.Load(crafted));
    }

    [Fact]
    public void BadCodeInsideATensor_IsACodedErrorFromModelLoading()
    {
        var entries = CraftedContainer.EntriesOf(Valid);
        var index = entries.FindIndex(e => e.Encoding == (byte)TensorEncoding.Brotli);
        Assert.True(index >= 0);
        entries[index] = entries[index] with { Stored = entries[index].Stored.Select(b => (byte)~b).ToArray() };
        var crafted = CraftedContainer.Build(CraftedContainer.MetadataOf(Valid), CraftedContainer.GraphOf(Valid), entries);
        using var temp = new TestPaths.TempFolder();
        File.WriteAllBytes(temp.File("bad.cmodel"), crafted);
        var error = Assert.Throws<ModelBuildException>(() => ModelBuildTasks.Graph.ModelFile.Load(temp.File("bad.cmodel")));
        Assert.Equal(ErrorCodes.InvalidContainer, error.Code);
    }

    sealed class EndlessStream(byte[] prefix) : Stream
    {
        public long Served { get; private set; }
        public override int Read(byte[] buffer, int offset, int count)
        {
            for (var i = 0; i < count; i++) buffer[offset + i] = Served + i < prefix.Length ? prefix[Served + i] : (byte)0x41;
            Served += count;
            return count;
        }
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => Served; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

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

    static long Allocated(Action action)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        try { action(); } catch (ContainerFormatException) { }
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    // A rANS plane of one symbol costs nothing per element: its 8-byte payload (both states at L) decodes to any length.
    static readonly byte[] OneSymbolPayload = [0, 0, 0x80, 0, 0, 0, 0x80, 0];

    [Fact]
    public void ATinyTensorClaimingAGigabyte_IsRejectedByTheReader_BeforeAnyDecoding()
    {
        var parts = CraftedContainer.PartsOf(Valid);
        parts.Entries.Add(new CraftedContainer.Entry("bomb", 3, CraftedContainer.Rans, [1L << 30], CraftedContainer.Order0Plane([0], [1 << 15], 8), OneSymbolPayload));
        var crafted = CraftedContainer.Build(parts);
        Assert.True(crafted.Length < 100_000);

        var error = Assert.Throws<ContainerFormatException>(() => ModelContainer.Read(crafted).ToOnnx());
        Assert.Contains("expansion", error.Message);
        Assert.True(Allocated(() => ModelContainer.Read(crafted).ToOnnx()) < 16L << 20);
        Assert.Throws<ContainerFormatException>(() => CompressedModel.Load(crafted));

        // The same claim within the limit decodes: the limit, not the coder, is what stops it.
        parts.Entries[^1] = parts.Entries[^1] with { Dims = [4096 + 256 * 8] };
        var allowed = ModelContainer.Read(CraftedContainer.Build(parts));
        Assert.Equal(new byte[4096 + 256 * 8], allowed.DecodeTensor(allowed.Tensors.Count - 1));
    }

    [Fact]
    public void MoreTensorsThanTheCap_AreRefused_NotLoadedForSeconds()
    {
        // An empty tensor costs the file half a byte; a million of them took ONNX Runtime more than ten minutes to load.
        var parts = CraftedContainer.PartsOf(Valid);
        var room = (int)ContainerLimits.MaxTensors - parts.Entries.Count;
        for (var i = 0; i < room; i++) parts.Entries.Add(new CraftedContainer.Entry($"empty{i}", 1, CraftedContainer.Inline, [0], [], []));
        Assert.Equal((int)ContainerLimits.MaxTensors, ModelContainer.Read(CraftedContainer.Build(parts)).Tensors.Count); // at the cap: read

        parts.Entries.Add(new CraftedContainer.Entry("one-more", 1, CraftedContainer.Inline, [0], [], []));
        var crafted = CraftedContainer.Build(parts);

        Assert.True(crafted.Length < 100_000);
        Assert.Contains("tensor count", Assert.Throws<ContainerFormatException>(() => ModelContainer.Read(crafted)).Message);
    }

    [Fact]
    public void AModelOfMoreTensorsThanTheCap_IsACodedError_WhenPacked()
    {
        // The writer's ArgumentException was an internal error (MBT1999) of the engine.
        var model = TestModels.Plain();
        for (var i = 0; i <= ContainerLimits.MaxTensors; i++) model.Graph.AddInitializer(ModelBuildTasks.Graph.Tensor.FromInt64s($"extra{i}", [1], [i]));

        var e = Assert.Throws<ModelBuildException>(() => ContainerPackaging.Pack(model, new ContainerMetadata()));

        Assert.Equal(ErrorCodes.InvalidGraph, e.Code);
        Assert.Contains("more than a container holds (20,000)", e.Message);
    }

    [Fact]
    public void AStreamEndingBeforeItsLength_IsACutContainer()
    {
        // A file cut while it is read: Length promised more than the stream gives.
        using var stream = new LyingLength(Valid[..1000], Valid.Length);
        Assert.Contains("the stream ended", Assert.Throws<ContainerFormatException>(() => ModelContainer.Read(stream)).Message);
    }

    sealed class LyingLength(byte[] bytes, long length) : MemoryStream(bytes)
    {
        public override long Length => length;
    }

    [Fact]
    public void ATensorNameWithALoneSurrogate_IsRefusedByTheWriter_NotWrittenRenamed()
    {
        // Encoded leniently, "a\uD800" and "a\uDC00" both became "a\uFFFD": a file its own reader refused.
        var tensors = new[] { new ContainerTensor("a\uD800", 1, [1], new byte[4]) };
        var error = Assert.Throws<ArgumentException>(() => ContainerWriter.Write("{}", [], [], tensors));
        Assert.Contains("lone surrogate", error.Message);
    }

    [Fact]
    public void AVersion1TensorClaimingAGigabyte_IsStillRejected()
    {
        // A sparse-huffman tensor with no nonzeros: 4 + 3 + 3 bytes that decode to any length of zeros.
        byte[] emptySparse = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        var fixture = CraftedContainerV1.Fixture;
        var entries = CraftedContainerV1.EntriesOf(fixture);
        entries.Add(new CraftedContainerV1.Entry("bomb", 3, (byte)TensorEncoding.SparseHuffman, [1L << 30], emptySparse, 1L << 30));
        var crafted = CraftedContainerV1.Build(CraftedContainerV1.MetadataOf(fixture), CraftedContainerV1.GraphOf(fixture), entries);
        Assert.Contains("expansion", Assert.Throws<ContainerFormatException>(() => ModelContainer.Read(crafted).ToOnnx()).Message);
        Assert.True(Allocated(() => ModelContainer.Read(crafted).ToOnnx()) < 16L << 20);
    }

    [Fact]
    public void AnIndexClaimingHundredsOfMegabytes_IsRejected_BeforeDecoding()
    {
        var parts = CraftedContainer.PartsOf(Valid);
        var brotli = CraftedContainer.Brotli(CraftedContainer.Index(parts));
        var data = parts.Entries.Where(e => e.Encoding == CraftedContainer.Rans).SelectMany(e => e.Stored).ToArray();
        var crafted = CraftedContainer.Seal(1, brotli, 200u << 20, data); // 200 MiB from a few kilobytes
        Assert.Contains("expansion", Assert.Throws<ContainerFormatException>(() => ModelContainer.Read(crafted)).Message);
        Assert.True(Allocated(() => ModelContainer.Read(crafted)) < 16L << 20);
        Assert.Contains("limit", Assert.Throws<ContainerFormatException>(() => ModelContainer.Read(CraftedContainer.Seal(1, brotli, 600u << 20, data))).Message);
    }

    [Fact]
    public void BytesAppendedAfterTheIndexStream_AreADamagedIndex()
    {
        // format.md: the index decodes to exactly its declared length from exactly its stored length.
        var parts = CraftedContainer.PartsOf(Valid);
        var index = CraftedContainer.Index(parts);
        var data = parts.Entries.Where(e => e.Encoding == CraftedContainer.Rans).SelectMany(e => e.Stored).ToArray();
        var brotli = CraftedContainer.Brotli(index);
        ModelContainer.Read(CraftedContainer.Seal(1, brotli, (uint)index.Length, data)); // as built, valid
        var appended = CraftedContainer.Seal(1, [.. brotli, .. "JUNKJUNK"u8], (uint)index.Length, data);
        Assert.Contains("exactly its declared length", Assert.Throws<ContainerFormatException>(() => ModelContainer.Read(appended)).Message);
    }

    [Fact]
    public void AnEndlessNonSeekableStream_StopsAtTheFileLimit_InsteadOfGrowingWithoutBound()
    {
        // A valid header, then bytes forever: the reader must give up at its documented limit, reading no further.
        var stream = new EndlessStream(Valid[..32]);
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

    [Theory]
    [InlineData(new long[] { 0, 1L << 32 })]               // empty, but a dimension the reader refuses
    [InlineData(new long[] { 1L << 31, 1L << 31, 1L << 2, 0 })] // 2^64 elements wrap to 0 in a plain product
    public void TheWriter_RefusesDimensionsTheReaderWouldRefuse_EvenInAnEmptyTensor(long[] dims)
    {
        var tensor = new ContainerTensor("t", 1, dims, []);
        var error = Assert.Throws<ArgumentException>(() => ContainerWriter.Write("{}", [], [], [tensor]));
        Assert.Contains("'t'", error.Message);
        // The largest empty shape it accepts, the reader reads back.
        var edge = ContainerWriter.Write("{}", [], [], [new ContainerTensor("t", 1, [0, ContainerLimits.MaxDecodedTotal], [])]);
        Assert.Equal([0, ContainerLimits.MaxDecodedTotal], ModelContainer.Read(edge).Tensors[0].Dims);
    }

    [Fact]
    public void NullLabelsInTheMetadata_AreAFormatError_NotANullReference()
    {
        var parts = CraftedContainer.PartsOf(Valid);
        var json = parts.Metadata.Replace("\"labels\":[\"a\",\"b\"]", "\"labels\":null");
        Assert.Contains("\"labels\":null", json);
        var crafted = CraftedContainer.Build(parts with { Metadata = json });
        Assert.Throws<ContainerFormatException>(() => CompressedModel.Load(crafted));
        Assert.Throws<ContainerFormatException>(() => ContainerMetadata.Parse(json.Replace("\"labels\":null", "\"labels\":[null]")));
    }

    [Fact]
    public void AGraphOnnxRuntimeRejects_IsAFormatError_NotAnOnnxRuntimeException()
    {
        // Well-formed protobuf with valid checksums, but the model refers to an initializer that is not there.
        var parts = CraftedContainer.PartsOf(Valid);
        parts.Entries.RemoveAt(0);
        var crafted = CraftedContainer.Build(parts);
        ModelContainer.Read(crafted).ToOnnx(); // structurally fine
        Assert.Throws<ContainerFormatException>(() => CompressedModel.Load(crafted));
    }

    [Fact]
    public void BadCodeInsideATensor_IsACodedErrorFromModelLoading()
    {
        var parts = CraftedContainer.PartsOf(Valid);
        var index = parts.Entries.FindIndex(e => e.Encoding == CraftedContainer.Rans && e.Table.Any(b => b != 0)); // a rANS-coded plane, not a raw one
        Assert.True(index >= 0);
        parts.Entries[index] = parts.Entries[index] with { Stored = parts.Entries[index].Stored.Select(b => (byte)~b).ToArray() };
        var crafted = CraftedContainer.Build(parts);
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

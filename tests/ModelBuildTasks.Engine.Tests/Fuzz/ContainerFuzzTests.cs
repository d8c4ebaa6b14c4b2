using ModelBuildTasks.Container;
using ModelBuildTasks.Graph;
using ModelBuildTasks.Packaging;
using ModelBuildTasks.Runtime;
using Xunit.Abstractions;

namespace ModelBuildTasks.Engine.Tests.Fuzz;

/// <summary>Mutated containers end in a valid model or a ContainerFormatException, within the fuzz bounds.</summary>
[Collection(nameof(FuzzCollection))]
public class ContainerFuzzTests(ITestOutputHelper output)
{
    // A small model with every encoding in it: float weights (Brotli or raw), a sparse int8 tensor, a few-level uint8 one (Huffman).
    static readonly byte[] Base = BuildBase();

    static byte[] BuildBase()
    {
        var model = TestModels.Plain();
        var random = new Random(5);
        var sparse = new byte[16384];
        for (var i = 0; i < sparse.Length; i++) sparse[i] = random.Next(40) == 0 ? (byte)(random.Next(1, 4) * 50) : (byte)0;
        var levels = new byte[4096];
        for (var i = 0; i < levels.Length; i++) levels[i] = (byte)(random.Next(6) * 17);
        model.Graph.AddInitializer(new Tensor("sparse", ElementType.Int8, [128, 128], sparse));
        model.Graph.AddInitializer(new Tensor("levels", ElementType.UInt8, [4096], levels));
        var bytes = ContainerPackaging.Pack(model, new ContainerMetadata
        {
            Inputs = [new TensorDescription("input", "float", ["N", "1", "28", "28"])],
            Outputs = [new TensorDescription("logits", "float", ["N", "10"])],
            Labels = ["a", "b", "c"],
        });
        var encodings = ModelContainer.Read(bytes).Tensors.Select(t => t.Encoding).ToHashSet();
        Assert.Subset(encodings, new HashSet<TensorEncoding> { TensorEncoding.SparseHuffman, TensorEncoding.Huffman });
        return bytes;
    }

    static byte[] Case(Mutator m)
    {
        switch (m.Random.Next(4))
        {
            case 0: // anything: most fail a checksum
                return m.Mutate(Base);
            case 1: // damage behind a valid index checksum
            {
                var bytes = m.Mutate(Base, protect: 8);
                CraftedContainer.Reseal(bytes);
                return bytes;
            }
            case 2: // crafted table fields and stored bytes, every checksum valid
            {
                var entries = CraftedContainer.EntriesOf(Base);
                var k = m.Random.Next(entries.Count);
                var e = entries[k];
                entries[k] = m.Random.Next(5) switch
                {
                    0 => e with { Stored = m.Mutate(e.Stored) },
                    1 => e with { DecodedLength = (long)m.InterestingValue() },
                    2 => e with { Dims = e.Dims.Select(d => m.Random.Next(2) == 0 ? (long)m.InterestingValue() : d).ToArray() },
                    3 => e with { Encoding = (byte)m.Random.Next(5), ElementType = m.Random.Next(4) == 0 ? (byte)m.Random.Next(20) : e.ElementType },
                    _ => e with { Name = m.Random.Next(2) == 0 ? entries[(k + 1) % entries.Count].Name : e.Name + "\u00e9" },
                };
                var metadata = CraftedContainer.MetadataOf(Base);
                if (m.Random.Next(4) == 0) metadata = System.Text.Encoding.UTF8.GetString(m.Mutate(System.Text.Encoding.UTF8.GetBytes(metadata)));
                var graph = CraftedContainer.GraphOf(Base);
                if (m.Random.Next(3) == 0) graph = m.Mutate(graph);
                return CraftedContainer.Build(metadata, graph, entries);
            }
            default: // decompression bombs: a few stored bytes claiming a lot
            {
                var entries = CraftedContainer.EntriesOf(Base);
                var claim = 1L << m.Random.Next(12, 34);
                byte[] stored = m.Random.Next(2) == 0 ? [0, 0, 0, 0, 0, 0, 0, 0, 0, 0] : [0x0B, 0xFF, 0xFF, 0x03];
                var encoding = stored.Length == 10 ? TensorEncoding.SparseHuffman : TensorEncoding.Brotli;
                entries.Add(new CraftedContainer.Entry("bomb", 3, (byte)encoding, [claim], stored, claim));
                return CraftedContainer.Build(CraftedContainer.MetadataOf(Base), CraftedContainer.GraphOf(Base), entries);
            }
        }
    }

    [Fact]
    public void MutatedContainers_AreReadOrRejectedCleanly()
    {
        Assert.NotNull(ModelContainer.Read(Base).ToOnnx());
        FuzzHarness.Run(output, "container", m =>
        {
            var bytes = Case(m);
            var container = ModelContainer.Read(bytes);
            var onnx = container.ToOnnx();
            ContainerMetadata.Parse(container.MetadataJson);
            return onnx.Length;
        }, typeof(ContainerFormatException));
    }

    [Fact]
    public void MutatedContainers_LoadInTheRuntimeOrFailWithContainerFormatException()
    {
        // ONNX Runtime sessions cost milliseconds: the runtime sees the cases the reader accepts, plus a sample of the rest.
        FuzzHarness.Run(output, "runtime", m =>
        {
            var bytes = Case(m);
            try { ModelContainer.Read(bytes).ToOnnx(); }
            catch (ContainerFormatException) when (m.Random.Next(20) != 0) { return null; }
            using var model = CompressedModel.Load(new MemoryStream(bytes));
            return model.Predict(new float[model.InputSize]).ClassIndex;
        }, typeof(ContainerFormatException));
    }
}

using ModelBuildTasks.Container;
using ModelBuildTasks.Graph;
using ModelBuildTasks.Packaging;
using ModelBuildTasks.Runtime;
using Xunit.Abstractions;

namespace ModelBuildTasks.Engine.Tests.Fuzz;

/// <summary>Mutated containers (version 2, and version 1 from the fixture) end in a valid model or a ContainerFormatException, within the fuzz bounds.</summary>
[Collection(nameof(FuzzCollection))]
public class ContainerFuzzTests(ITestOutputHelper output)
{
    // A small model with every version-2 code in it: inline scales and biases, float weights with raw
    // and rANS planes, a sparse int8 tensor and a few-level uint8 one (order 0), correlated int8 weights (order 1).
    static readonly byte[] Base = BuildBase();
    static readonly byte[] BaseV1 = CraftedContainerV1.Fixture;

    static byte[] BuildBase()
    {
        var model = TestModels.Plain();
        var random = new Random(5);
        var sparse = new byte[16384];
        for (var i = 0; i < sparse.Length; i++) sparse[i] = random.Next(40) == 0 ? (byte)(random.Next(1, 4) * 50) : (byte)0;
        var levels = new byte[4096];
        for (var i = 0; i < levels.Length; i++) levels[i] = (byte)(random.Next(6) * 17);
        var correlated = new byte[8192];
        for (int i = 0, level = 0; i < correlated.Length; i++) correlated[i] = (byte)(sbyte)(level = Math.Clamp(level + random.Next(3) - 1, -7, 7));
        model.Graph.AddInitializer(new Tensor("sparse", ElementType.Int8, [128, 128], sparse));
        model.Graph.AddInitializer(new Tensor("levels", ElementType.UInt8, [4096], levels));
        model.Graph.AddInitializer(new Tensor("correlated", ElementType.Int8, [64, 128], correlated));
        var bytes = ContainerPackaging.Pack(model, new ContainerMetadata
        {
            Inputs = [new TensorDescription("input", "float", ["N", "1", "28", "28"])],
            Outputs = [new TensorDescription("logits", "float", ["N", "10"])],
            Labels = ["a", "b", "c"],
        });
        var parts = CraftedContainer.PartsOf(bytes);
        Assert.Equal([CraftedContainer.Rans, CraftedContainer.Inline], parts.Entries.Select(e => e.Encoding).Distinct().Order());
        var planeKinds = parts.Entries.Where(e => e.Encoding == CraftedContainer.Rans).Select(e => e.Table[0]).ToHashSet();
        Assert.Superset(new HashSet<byte> { 0, 1, 2 }, planeKinds); // raw, order 0, order 1
        return bytes;
    }

    static byte[] Case(Mutator m)
    {
        switch (m.Random.Next(4))
        {
            case 0: // anything: most fail a checksum
                return m.Mutate(Base);
            case 1: // damage behind valid checksums
            {
                var bytes = m.Mutate(Base, protect: 8);
                CraftedContainer.Reseal(bytes);
                return bytes;
            }
            case 2: // crafted index fields and stored bytes, every checksum valid
            {
                var parts = CraftedContainer.PartsOf(Base);
                if (m.Random.Next(5) == 0)
                {
                    // The decoded index itself, mutated anywhere (lengths, varints, tables), coded or raw.
                    var index = m.Mutate(CraftedContainer.Index(parts));
                    var data = parts.Entries.Where(e => e.Encoding != CraftedContainer.Inline).SelectMany(e => e.Stored).ToArray();
                    return m.Random.Next(2) == 0
                        ? CraftedContainer.Seal(1, CraftedContainer.Brotli(index), (uint)index.Length, data)
                        : CraftedContainer.Seal(0, index, (uint)index.Length, data);
                }
                var entries = parts.Entries;
                var k = m.Random.Next(entries.Count);
                var e = entries[k];
                entries[k] = m.Random.Next(6) switch
                {
                    0 => e with { Stored = m.Mutate(e.Stored) },
                    1 => e with { Table = m.Mutate(e.Table) },
                    2 => e with { Dims = e.Dims.Select(d => m.Random.Next(2) == 0 ? (long)(m.InterestingValue() & 0x7FFFFFFFFFFFFFFF) : d).ToArray() },
                    3 => e with { Encoding = (byte)m.Random.Next(7), ElementType = m.Random.Next(4) == 0 ? (byte)m.Random.Next(20) : e.ElementType },
                    4 => e with { Name = m.Random.Next(2) == 0 ? entries[(k + 1) % entries.Count].Name : e.Name + "\u00e9" },
                    _ => e with { Table = e.Table, Stored = [.. e.Stored, .. e.Stored] },
                };
                if (m.Random.Next(4) == 0) parts = parts with { Metadata = System.Text.Encoding.UTF8.GetString(m.Mutate(System.Text.Encoding.UTF8.GetBytes(parts.Metadata))) };
                if (m.Random.Next(3) == 0) parts = parts with { Graph = m.Mutate(parts.Graph) };
                return CraftedContainer.Build(parts, brotliIndex: m.Random.Next(4) != 0);
            }
            default: // decompression bombs: a few stored bytes claiming a lot
            {
                var parts = CraftedContainer.PartsOf(Base);
                var claim = 1L << m.Random.Next(12, 34);
                if (m.Random.Next(3) == 0)
                {
                    var index = CraftedContainer.Index(parts);
                    var data = parts.Entries.Where(e => e.Encoding != CraftedContainer.Inline).SelectMany(e => e.Stored).ToArray();
                    return CraftedContainer.Seal(1, CraftedContainer.Brotli(index), (uint)Math.Min(claim, uint.MaxValue), data);
                }
                parts.Entries.Add(new CraftedContainer.Entry("bomb", 3, CraftedContainer.Rans, [claim],
                    CraftedContainer.Order0Plane([0], [1 << 15], 8), [0, 0, 0x80, 0, 0, 0, 0x80, 0]));
                return CraftedContainer.Build(parts);
            }
        }
    }

    static byte[] CaseV1(Mutator m)
    {
        switch (m.Random.Next(4))
        {
            case 0:
                return m.Mutate(BaseV1);
            case 1:
            {
                var bytes = m.Mutate(BaseV1, protect: 8);
                CraftedContainerV1.Reseal(bytes);
                return bytes;
            }
            case 2:
            {
                var entries = CraftedContainerV1.EntriesOf(BaseV1);
                var k = m.Random.Next(entries.Count);
                var e = entries[k];
                entries[k] = m.Random.Next(5) switch
                {
                    0 => e with { Stored = m.Mutate(e.Stored) },
                    1 => e with { DecodedLength = (long)m.InterestingValue() },
                    2 => e with { Dims = e.Dims.Select(d => m.Random.Next(2) == 0 ? (long)m.InterestingValue() : d).ToArray() },
                    3 => e with { Encoding = (byte)m.Random.Next(6), ElementType = m.Random.Next(4) == 0 ? (byte)m.Random.Next(20) : e.ElementType },
                    _ => e with { Name = m.Random.Next(2) == 0 ? entries[(k + 1) % entries.Count].Name : e.Name + "\u00e9" },
                };
                var metadata = CraftedContainerV1.MetadataOf(BaseV1);
                if (m.Random.Next(4) == 0) metadata = System.Text.Encoding.UTF8.GetString(m.Mutate(System.Text.Encoding.UTF8.GetBytes(metadata)));
                var graph = CraftedContainerV1.GraphOf(BaseV1);
                if (m.Random.Next(3) == 0) graph = m.Mutate(graph);
                return CraftedContainerV1.Build(metadata, graph, entries);
            }
            default:
            {
                var entries = CraftedContainerV1.EntriesOf(BaseV1);
                var claim = 1L << m.Random.Next(12, 34);
                byte[] stored = m.Random.Next(2) == 0 ? [0, 0, 0, 0, 0, 0, 0, 0, 0, 0] : [0x0B, 0xFF, 0xFF, 0x03];
                var encoding = stored.Length == 10 ? TensorEncoding.SparseHuffman : TensorEncoding.Brotli;
                entries.Add(new CraftedContainerV1.Entry("bomb", 3, (byte)encoding, [claim], stored, claim));
                return CraftedContainerV1.Build(CraftedContainerV1.MetadataOf(BaseV1), CraftedContainerV1.GraphOf(BaseV1), entries);
            }
        }
    }

    static int Read(byte[] bytes)
    {
        var container = ModelContainer.Read(bytes);
        var onnx = container.ToOnnx();
        ContainerMetadata.Parse(container.MetadataJson);
        return onnx.Length;
    }

    [Fact]
    public void MutatedContainers_AreReadOrRejectedCleanly()
    {
        Assert.NotNull(ModelContainer.Read(Base).ToOnnx());
        FuzzHarness.Run(output, "container", m => Read(Case(m)), typeof(ContainerFormatException));
    }

    [Fact]
    public void MutatedVersion1Containers_AreReadOrRejectedCleanly()
    {
        Assert.NotNull(ModelContainer.Read(BaseV1).ToOnnx());
        FuzzHarness.Run(output, "container-v1", m => Read(CaseV1(m)), typeof(ContainerFormatException));
    }

    [Fact]
    public void MutatedContainers_LoadInTheRuntimeOrFailWithContainerFormatException()
    {
        // ONNX Runtime sessions cost milliseconds: the runtime sees the cases the reader accepts, plus a sample of the rest.
        FuzzHarness.Run(output, "runtime", m =>
        {
            var bytes = m.Random.Next(4) == 0 ? CaseV1(m) : Case(m);
            try { ModelContainer.Read(bytes).ToOnnx(); }
            catch (ContainerFormatException) when (m.Random.Next(20) != 0) { return null; }
            using var model = CompressedModel.Load(new MemoryStream(bytes));
            return model.Predict(new float[model.InputSize]).ClassIndex;
        }, typeof(ContainerFormatException));
    }
}

using ModelBuildTasks.Container;

namespace ModelBuildTasks.Engine.Tests;

public class EntropyCodingTests
{
    public static TheoryData<string> Distributions => ["uniform", "skewed", "sparse10", "sparse1", "zeros", "constant", "empty", "one", "fewlevels"];

    static byte[] Data(string kind)
    {
        var random = new Random(kind.GetHashCode(StringComparison.Ordinal) & 0xFFFF);
        return kind switch
        {
            "uniform" => Enumerable.Range(0, 20_000).Select(_ => (byte)random.Next(256)).ToArray(),
            // int8 weights after quantization: roughly normal around 0
            "skewed" => Enumerable.Range(0, 20_000).Select(_ => (byte)(sbyte)Math.Clamp(Math.Round(Normal(random) * 20), -127, 127)).ToArray(),
            "sparse10" => Enumerable.Range(0, 50_000).Select(_ => random.NextDouble() < 0.1 ? (byte)(sbyte)random.Next(-8, 9) : (byte)0).ToArray(),
            "sparse1" => Enumerable.Range(0, 50_000).Select(_ => random.NextDouble() < 0.01 ? (byte)random.Next(1, 256) : (byte)0).ToArray(),
            "zeros" => new byte[5000],
            "constant" => Enumerable.Repeat((byte)7, 5000).ToArray(),
            "empty" => [],
            "one" => [42],
            "fewlevels" => Enumerable.Range(0, 30_000).Select(_ => (byte)(sbyte)(random.Next(16) - 8)).ToArray(),
            _ => throw new ArgumentException(kind),
        };
    }

    static double Normal(Random r) => Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble());

    [Theory, MemberData(nameof(Distributions))]
    public void BothEncodings_RoundTripExactly_AndDeterministically(string kind)
    {
        var data = Data(kind);
        var huffman = EntropyCoding.EncodeHuffman(data);
        Assert.Equal(data, EntropyCoding.DecodeHuffman(huffman, data.Length, 0));
        Assert.Equal(huffman, EntropyCoding.EncodeHuffman(data));
        var sparse = EntropyCoding.EncodeSparse(data);
        Assert.Equal(data, EntropyCoding.DecodeSparse(sparse, data.Length, 0));
        Assert.Equal(sparse, EntropyCoding.EncodeSparse(data));
    }

    [Theory]
    [InlineData("skewed")]
    [InlineData("fewlevels")]
    [InlineData("uniform")]
    public void Huffman_IsWithinOneBitPerSymbolOfTheEntropyBound(string kind)
    {
        var data = Data(kind);
        var bound = EntropyCoding.EntropyBound(data);
        var coded = EntropyCoding.EncodeHuffman(data).Length;
        Assert.True(coded >= bound - 1, $"{coded} bytes is below the entropy bound {bound:0}: impossible");
        Assert.True(coded <= bound + data.Length / 8.0 + 2 + 2 * 256, $"{coded} bytes vs bound {bound:0}");
    }

    [Fact]
    public void SparseCoding_BeatsDenseCoding_AtLowDensity()
    {
        var data = Data("sparse1");
        var dense = EntropyCoding.EncodeHuffman(data).Length; // at least one bit per byte
        var sparse = EntropyCoding.EncodeSparse(data).Length;
        Assert.True(sparse < dense / 2, $"sparse {sparse} vs dense {dense}");
        Assert.True(sparse < EntropyCoding.EntropyBound(data) * 1.5, $"sparse {sparse} vs bound {EntropyCoding.EntropyBound(data):0}");
    }

    [Fact]
    public void CraftedStreams_FailCleanly()
    {
        var data = Data("skewed");
        var huffman = EntropyCoding.EncodeHuffman(data);
        for (var cut = 0; cut < huffman.Length; cut += 97)
            Assert.Throws<ContainerFormatException>(() => EntropyCoding.DecodeHuffman(huffman[..cut], data.Length, 0));
        var sparse = EntropyCoding.EncodeSparse(Data("sparse10"));
        for (var cut = 0; cut < sparse.Length; cut += 97)
            Assert.Throws<ContainerFormatException>(() => EntropyCoding.DecodeSparse(sparse[..cut], 50_000, 0));
        // A table that is not a prefix code: two symbols of length 1 and one more.
        Assert.Throws<ContainerFormatException>(() => EntropyCoding.DecodeHuffman(new byte[] { 0, 3, 0, 1, 1, 2, 1, 3, 1, 0xFF }, 8, 0));
        // More nonzeros than values.
        Assert.Throws<ContainerFormatException>(() => EntropyCoding.DecodeSparse(sparse, 10, 0));
    }

    [Fact]
    public void Container_PicksTheSmallestEncoding_AndReportsTheBound()
    {
        var tensors = new[]
        {
            new ContainerTensor("sparse", 3, [50_000], Data("sparse1")),
            new ContainerTensor("levels", 3, [30_000], Data("fewlevels")),
            new ContainerTensor("floats", 1, [1000], Enumerable.Range(0, 4000).Select(i => (byte)(i % 251)).ToArray()),
        };
        var storage = ContainerWriter.Storage(tensors);
        Assert.Equal(TensorEncoding.SparseHuffman, storage[0].Encoding);
        Assert.Contains(storage[1].Encoding, new[] { TensorEncoding.Huffman, TensorEncoding.Brotli });
        Assert.NotEqual(TensorEncoding.Huffman, storage[2].Encoding); // entropy coding is only for 1-byte tensors
        Assert.All(storage.Take(2), s => Assert.True(s.StoredBytes <= s.EntropyBoundBytes * 1.05 + 300, $"{s.Name}: {s.StoredBytes} stored vs bound {s.EntropyBoundBytes:0}"));

        var file = ContainerWriter.Write("{}", [], [], tensors);
        var container = ModelContainer.Read(file);
        for (var i = 0; i < tensors.Length; i++) Assert.Equal(tensors[i].Data, container.DecodeTensor(i));
    }
}

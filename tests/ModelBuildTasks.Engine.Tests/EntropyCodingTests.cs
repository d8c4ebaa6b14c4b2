using ModelBuildTasks.Container;

namespace ModelBuildTasks.Engine.Tests;

/// <summary>The rANS plane coding of version 2, and the version-1 decoders kept for old files.</summary>
public class EntropyCodingTests
{
    public static TheoryData<string> Distributions => ["uniform", "skewed", "sparse10", "sparse1", "zeros", "constant", "empty", "one", "fewlevels", "markov", "floats"];

    static byte[] Data(string kind)
    {
        var random = new Random(kind.Length * 7919 + kind[0]);
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
            "markov" => Markov(random, 60_000),
            "floats" => Enumerable.Range(0, 5000).SelectMany(_ => BitConverter.GetBytes((float)(Normal(random) * 0.05))).ToArray(),
            _ => throw new ArgumentException(kind),
        };
    }

    // Neighbouring weights of a trained kernel resemble each other: each value is the last one moved by -1, 0 or +1 of 15 levels.
    static byte[] Markov(Random random, int length)
    {
        var data = new byte[length];
        var level = 0;
        for (var i = 0; i < length; i++)
        {
            level = Math.Clamp(level + random.Next(3) - 1, -7, 7);
            data[i] = (byte)(sbyte)level;
        }
        return data;
    }

    static double Normal(Random r) => Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble());

    static int Size(string kind) => kind == "floats" ? 4 : 1;

    // The plane codes as the index holds them, read back through the reader's own validation.
    static PlaneCode[] RoundTripTables(PlaneCode[] planes, int elements)
    {
        var index = new IndexWriter();
        foreach (var p in planes) PlaneCoding.Write(index, p);
        var reader = new IndexReader(index.Written.ToArray(), 0);
        var read = planes.Select(_ => PlaneCoding.Read(reader, elements)).ToArray();
        Assert.Equal(0, reader.Remaining);
        return read;
    }

    [Theory, MemberData(nameof(Distributions))]
    public void PlaneCoding_RoundTripsExactly_AndDeterministically(string kind)
    {
        var data = Data(kind);
        var size = Size(kind);
        var (planes, payload) = PlaneCoding.Encode(data, size);
        var read = RoundTripTables(planes, data.Length / size);
        var decoded = new byte[data.Length];
        PlaneCoding.Decode(payload, read, decoded, 0);
        Assert.Equal(data, decoded);
        var again = PlaneCoding.Encode(data, size);
        Assert.Equal(payload, again.Payload);
        Assert.Equal(planes, again.Planes, (a, b) => a.Kind == b.Kind && a.Alphabet.SequenceEqual(b.Alphabet) && a.Freqs.SequenceEqual(b.Freqs) && a.PayloadLength == b.PayloadLength);
    }

    static long CodedBytes(byte[] data, int size)
    {
        var (planes, payload) = PlaneCoding.Encode(data, size);
        var index = new IndexWriter();
        foreach (var p in planes) PlaneCoding.Write(index, p);
        return payload.Length + index.Length;
    }

    [Theory]
    [InlineData("skewed")]
    [InlineData("fewlevels")]
    [InlineData("sparse10")]
    [InlineData("uniform")]
    public void RansOnIndependentBytes_IsWithinOnePercentOfTheEntropyBound_PlusItsTable(string kind)
    {
        // Huffman lost up to a bit per symbol here (12% on 4-bit weights); rANS loses its table (a few
        // bytes per symbol in use, before the index is Brotli-coded) and its states.
        var data = Data(kind);
        var bound = EntropyCoding.EntropyBound(data);
        var coded = CodedBytes(data, 1);
        var symbols = data.Distinct().Count();
        Assert.True(coded >= bound * 0.99, $"{coded} bytes is below the order-0 bound {bound:0} of independent bytes: impossible");
        Assert.True(coded <= bound * 1.01 + 4 * symbols + 16, $"{coded} bytes vs bound {bound:0} and {symbols} symbols");
    }

    [Fact]
    public void SparseBytes_CostLittleMoreThanTheirBound()
    {
        // 1% nonzeros with 255 values: the zeros need many frequency slots beside 255 rare symbols.
        var data = Data("sparse1");
        var bound = EntropyCoding.EntropyBound(data);
        var coded = CodedBytes(data, 1);
        Assert.True(coded < bound * 1.1 + 600, $"{coded} bytes vs bound {bound:0}");
    }

    [Fact]
    public void CorrelatedWeights_TakeOrder1_AndBeatTheirOrder0Bound()
    {
        var data = Data("markov");
        var (planes, _) = PlaneCoding.Encode(data, 1);
        Assert.Equal(PlaneKind.Order1, planes[0].Kind);
        var coded = CodedBytes(data, 1);
        Assert.True(coded < EntropyCoding.EntropyBound(data) * 0.6, $"{coded} bytes vs order-0 bound {EntropyCoding.EntropyBound(data):0}");
    }

    [Fact]
    public void Floats_KeepTheirMantissaPlanesRaw_AndCodeTheExponentPlane()
    {
        var data = Data("floats");
        var (planes, payload) = PlaneCoding.Encode(data, 4);
        Assert.Equal(PlaneKind.Raw, planes[0].Kind);            // the low mantissa byte is noise
        Assert.NotEqual(PlaneKind.Raw, planes[3].Kind);         // sign and exponent: a few values
        Assert.True(payload.Length < data.Length * 0.9, $"{payload.Length} of {data.Length}");
    }

    [Fact]
    public void RandomTables_RoundTrip_WithEveryFrequencyFrom1Up()
    {
        // Symbols drawn from random normalized tables exercise the encoder's reciprocal division for many frequencies.
        var random = new Random(11);
        for (var trial = 0; trial < 40; trial++)
        {
            var k = random.Next(1, 257);
            var counts = Enumerable.Range(0, k).Select(_ => (long)(random.Next(4) == 0 ? 1 : random.Next(1, 100_000))).ToArray();
            var freqs = Rans.Normalize(counts, Rans.Order0Bits);
            Assert.Equal(1 << Rans.Order0Bits, freqs.Sum());
            Assert.All(freqs, f => Assert.True(f >= 1));
            var cumulative = new int[k + 1];
            for (var s = 0; s < k; s++) cumulative[s + 1] = cumulative[s] + freqs[s];
            var symbols = Enumerable.Range(0, trial % 2 == 0 ? 3001 + trial : 9001 + trial).Select(_ =>
            {
                var slot = random.Next(1 << Rans.Order0Bits);
                return (byte)(Array.FindIndex(cumulative, c => c > slot) - 1);
            }).ToArray();
            var alphabet = Enumerable.Range(0, k).Select(s => (byte)s).ToArray();
            var payload = Rans.Encode(symbols, freqs, 1, Rans.Order0Bits);
            var decoded = new byte[symbols.Length];
            Rans.Decode(payload, alphabet, freqs, 1, Rans.Order0Bits, decoded, 0, 1, symbols.Length, 0);
            Assert.Equal(symbols, decoded);
        }
    }

    [Theory]
    [InlineData("markov", false)]
    [InlineData("skewed", false)]
    [InlineData("markov", true)]
    [InlineData("skewed", true)]
    public void TableAndSearchDecoding_TakeTheSameSteps_OnValidAndOnDamagedPayloads(string kind, bool damage)
    {
        // Small planes decode by search (no table per slot); both ways must agree, garbage included.
        var data = Data(kind);
        var (planes, payload) = PlaneCoding.Encode(data, 1);
        var code = planes[0];
        if (damage) payload[payload.Length / 2] ^= 0x10;
        (byte[] Output, uint X0, uint X1, int At, string? Error) Run(bool tables)
        {
            var output = new byte[data.Length];
            uint x0 = BitConverter.ToUInt32(payload, 0), x1 = BitConverter.ToUInt32(payload, 4);
            var at = Rans.StateBytes;
            try
            {
                if (tables) Rans.DecodeWithTables(payload, code.Alphabet, code.Freqs, code.Contexts, code.Bits, output, 0, 1, data.Length, ref x0, ref x1, ref at, 0);
                else Rans.DecodeBySearch(payload, code.Alphabet, code.Freqs, code.Contexts, code.Bits, output, 0, 1, data.Length, ref x0, ref x1, ref at, 0);
            }
            catch (ContainerFormatException e) { return (output, x0, x1, at, e.Message); }
            return (output, x0, x1, at, null);
        }
        var (withTables, bySearch) = (Run(true), Run(false));
        Assert.Equal(withTables.Output, bySearch.Output);
        Assert.Equal((withTables.X0, withTables.X1, withTables.At, withTables.Error), (bySearch.X0, bySearch.X1, bySearch.At, bySearch.Error));
        if (!damage) Assert.Equal(data, withTables.Output);
    }

    [Fact]
    public void ACraftedStreamReachingAnEmptyRow_TakesSymbolZeroAndStateZero_InBothLookups()
    {
        // Order 1 over {7, 9}: row 0 splits the range, row 1 (after a 9) is empty, which no encoder reaches.
        byte[] alphabet = [7, 9];
        int[] freqs = [2048, 2048, 0, 0];
        var payload = new byte[8 + 32];
        BitConverter.GetBytes(Rans.L + 3000u).CopyTo(payload, 0); // slot 3000: symbol 9, so the next symbol reads row 1
        BitConverter.GetBytes(Rans.L + 5u).CopyTo(payload, 4);
        payload.AsSpan(8).Fill(0x80);
        (byte[] Output, uint X0, uint X1, int At) Run(bool tables)
        {
            var output = new byte[4];
            uint x0 = BitConverter.ToUInt32(payload, 0), x1 = BitConverter.ToUInt32(payload, 4);
            var at = Rans.StateBytes;
            if (tables) Rans.DecodeWithTables(payload, alphabet, freqs, 2, Rans.Order1Bits, output, 0, 1, output.Length, ref x0, ref x1, ref at, 0);
            else Rans.DecodeBySearch(payload, alphabet, freqs, 2, Rans.Order1Bits, output, 0, 1, output.Length, ref x0, ref x1, ref at, 0);
            return (output, x0, x1, at);
        }
        var (withTables, bySearch) = (Run(true), Run(false));
        Assert.Equal(9, withTables.Output[0]);
        Assert.Equal(7, withTables.Output[1]); // the empty row's symbol 0
        Assert.Equal(withTables, bySearch with { Output = withTables.Output });
        Assert.Equal(withTables.Output, bySearch.Output);
    }

    [Fact]
    public void Normalize_IsExact_KeepsUsedSymbols_AndLeavesUnusedOnesOut()
    {
        var random = new Random(3);
        for (var trial = 0; trial < 200; trial++)
        {
            var counts = Enumerable.Range(0, random.Next(1, 300)).Select(_ => random.Next(3) == 0 ? 0L : random.Next(1, 1 << random.Next(1, 30))).ToArray();
            var bits = random.Next(2) == 0 ? Rans.Order0Bits : Rans.Order1Bits;
            if (counts.Count(c => c > 0) > 1 << bits) continue;
            var freqs = Rans.Normalize(counts, bits);
            Assert.Equal(counts.Any(c => c > 0) ? 1 << bits : 0, freqs.Sum());
            for (var s = 0; s < counts.Length; s++) Assert.Equal(counts[s] > 0, freqs[s] > 0);
        }
    }

    [Fact]
    public void Log2Fixed_IsLog2ToSixteenFractionBits()
    {
        for (var f = 1; f <= 1 << Rans.Order0Bits; f++)
            Assert.True(Math.Abs(PlaneCoding.Log2Fixed(f) / 65536.0 - Math.Log2(f)) < 2.0 / 65536, $"log2({f})");
    }

    [Fact]
    public void DamagedPayloads_FailCleanly()
    {
        foreach (var kind in new[] { "skewed", "markov" })
        {
            var data = Data(kind);
            var (planes, payload) = PlaneCoding.Encode(data, 1);
            var output = new byte[data.Length];
            for (var cut = 0; cut < payload.Length; cut += 97)
            {
                var shorter = planes.Select(p => p with { PayloadLength = cut }).ToArray();
                Assert.Throws<ContainerFormatException>(() => PlaneCoding.Decode(payload.AsSpan(0, cut), shorter, output, 0));
            }
            // Any changed byte leaves a state that is not where the encoder started (or runs out of bytes).
            for (var at = 0; at < payload.Length; at += 53)
            {
                var damaged = payload.ToArray();
                damaged[at] ^= 0x21;
                Assert.Throws<ContainerFormatException>(() => PlaneCoding.Decode(damaged, planes, output, 0));
            }
        }
    }

    public static TheoryData<string, byte[]> CraftedTables => new()
    {
        { "unknown kind", [3] },
        { "empty alphabet", [1, 0] },
        { "alphabet past 255", [1, 2, 200, 100, 0x80, 0x80, 0x01, 0x80, 0x80, 0x01, 8] },
        { "frequencies not summing to 2^15", [1, 2, 0, 0, 1, 1, 8] },
        { "order-0 frequency 0", [1, 2, 0, 0, 0, 0x80, 0x80, 0x02, 8] },
        { "order-1 alphabet over 32", [2, 33] },
        { "order-1 row not 0 or 2^12", [2, 1, 5, 7, 8] },
        { "payload shorter than the states", [1, 1, 5, 0x80, 0x80, 0x02, 7] },
        { "a varint of 11 bytes", [1, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01] },
        { "truncated", [1, 2, 0] },
    };

    [Theory, MemberData(nameof(CraftedTables))]
    public void CraftedPlaneTables_AreFormatErrors(string what, byte[] table)
    {
        var error = Assert.Throws<ContainerFormatException>(() => PlaneCoding.Read(new IndexReader(table, 32), 100));
        Assert.Equal(32, error.Offset);
        Assert.NotNull(what);
    }

    [Fact]
    public void Container_CodesWeightsAsRans_AndSmallTensorsInline_NearTheBound()
    {
        var tensors = new[]
        {
            new ContainerTensor("sparse", 3, [50_000], Data("sparse10")),
            new ContainerTensor("levels", 3, [30_000], Data("fewlevels")),
            new ContainerTensor("floats", 1, [1000], Enumerable.Range(0, 4000).Select(i => (byte)(i % 251)).ToArray()),
            new ContainerTensor("zero_point", 3, [64], new byte[64]),
        };
        var storage = ContainerWriter.Storage(tensors);
        Assert.Equal([TensorEncoding.Rans, TensorEncoding.Rans, TensorEncoding.Inline, TensorEncoding.Inline], storage.Select(s => s.Encoding));
        Assert.All(storage.Take(2), s => Assert.True(s.StoredBytes <= s.EntropyBoundBytes * 1.01 + 16, $"{s.Name}: {s.StoredBytes} stored vs bound {s.EntropyBoundBytes:0}"));

        var file = ContainerWriter.Write("{}", [], [], tensors);
        var container = ModelContainer.Read(file);
        Assert.Equal(2u, container.Version);
        for (var i = 0; i < tensors.Length; i++) Assert.Equal(tensors[i].Data, container.DecodeTensor(i));
    }

    [Fact]
    public void Version1Decoders_StillDecodeTheFixture_AndRejectCutStreams()
    {
        var file = CraftedContainerV1.Fixture;
        var container = ModelContainer.Read(file);
        foreach (var encoding in new[] { TensorEncoding.Huffman, TensorEncoding.SparseHuffman })
        {
            var t = container.Tensors.Single(t => t.Encoding == encoding);
            var stored = file.AsMemory((int)t.Offset, (int)t.StoredLength);
            Func<ReadOnlyMemory<byte>, long, byte[]> decode = encoding == TensorEncoding.Huffman
                ? (s, n) => EntropyCoding.DecodeHuffman(s, n, 0)
                : (s, n) => EntropyCoding.DecodeSparse(s, n, 0);
            Assert.Equal(container.DecodeTensor(container.Tensors.ToList().IndexOf(t)), decode(stored, t.DecodedLength));
            for (var cut = 0; cut < stored.Length; cut += 37)
            {
                var c = cut;
                Assert.Throws<ContainerFormatException>(() => decode(stored[..c], t.DecodedLength));
            }
        }
        // A table that is not a prefix code: two symbols of length 1 and one more.
        Assert.Throws<ContainerFormatException>(() => EntropyCoding.DecodeHuffman(new byte[] { 0, 3, 0, 1, 1, 2, 1, 3, 1, 0xFF }, 8, 0));
    }
}

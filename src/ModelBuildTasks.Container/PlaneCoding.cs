namespace ModelBuildTasks.Container;

/// <summary>How one byte plane of a <see cref="TensorEncoding.Rans"/> tensor is stored (docs/format.md).</summary>
enum PlaneKind : byte
{
    /// <summary>The plane's bytes as they are.</summary>
    Raw = 0,
    /// <summary>rANS with one frequency table.</summary>
    Order0 = 1,
    /// <summary>rANS with one frequency row per previous symbol of the plane.</summary>
    Order1 = 2,
}

/// <summary>One byte plane's code: its kind, the symbols in use (ascending), their frequencies (order 1: K rows of K), and its payload's length.</summary>
sealed record PlaneCode(PlaneKind Kind, byte[] Alphabet, int[] Freqs, int PayloadLength)
{
    public int Contexts => Kind == PlaneKind.Order1 ? Alphabet.Length : 1;

    public int Bits => Kind == PlaneKind.Order1 ? Rans.Order1Bits : Rans.Order0Bits;
}

/// <summary>
/// The <see cref="TensorEncoding.Rans"/> encoding: a tensor of b-byte elements is split into b byte
/// planes (plane p holds byte p of every element: the exponent bytes of floats, the sign bytes of
/// int32 biases, and the bytes of int8 weights each come together), and each plane is stored raw or
/// rANS-coded with order 0 or order 1, whichever is smallest.
/// </summary>
static class PlaneCoding
{
    /// <summary>Codes <paramref name="data"/>: the planes' descriptions (for the index) and their payloads, concatenated in plane order.</summary>
    public static (PlaneCode[] Planes, byte[] Payload) Encode(ReadOnlySpan<byte> data, int elementSize)
    {
        var count = data.Length / elementSize;
        var planes = new PlaneCode[elementSize];
        var payloads = new byte[elementSize][];
        var plane = new byte[count];
        for (var p = 0; p < elementSize; p++)
        {
            for (var i = 0; i < count; i++) plane[i] = data[i * elementSize + p];
            (planes[p], payloads[p]) = EncodePlane(plane);
        }
        var payload = new byte[payloads.Sum(b => (long)b.Length)];
        var at = 0;
        foreach (var b in payloads) { b.CopyTo(payload, at); at += b.Length; }
        return (planes, payload);
    }

    // The smallest of raw, order 0 and order 1, counting each table's bytes in the index (before the
    // index is Brotli-coded). A table's payload is estimated from its frequencies (the rANS payload is
    // that ideal cost plus a byte or two), so only the chosen model is encoded.
    static (PlaneCode, byte[]) EncodePlane(byte[] plane)
    {
        var raw = (new PlaneCode(PlaneKind.Raw, [], [], plane.Length), plane.ToArray());
        if (plane.Length == 0) return raw;
        var counts = new long[256];
        foreach (var b in plane) counts[b]++;
        var alphabet = Enumerable.Range(0, 256).Where(s => counts[s] > 0).Select(s => (byte)s).ToArray();
        var k = alphabet.Length;
        var index = new byte[256];
        for (var i = 0; i < k; i++) index[alphabet[i]] = (byte)i;
        var symbols = new byte[plane.Length];
        for (var i = 0; i < plane.Length; i++) symbols[i] = index[plane[i]];

        var used = alphabet.Select(s => counts[s]).ToArray();
        var order0 = new PlaneCode(PlaneKind.Order0, alphabet, Rans.Normalize(used, Rans.Order0Bits), 0);
        var best = (Code: order0, Cost: Cost(order0, used));
        if (k is > 1 and <= Rans.MaxOrder1Symbols)
        {
            var pairs = new long[k * k];
            var previous = 0;
            foreach (var s in symbols) { pairs[previous * k + s]++; previous = s; }
            var freqs = new int[k * k];
            for (var r = 0; r < k; r++) Rans.Normalize(pairs.AsSpan(r * k, k), Rans.Order1Bits).CopyTo(freqs, r * k);
            var order1 = new PlaneCode(PlaneKind.Order1, alphabet, freqs, 0);
            var cost = Cost(order1, pairs);
            if (cost < best.Cost) best = (order1, cost);
        }
        if (best.Cost >= plane.Length) return raw;
        var payload = Rans.Encode(symbols, best.Code.Freqs, best.Code.Contexts, best.Code.Bits);
        return (best.Code with { PayloadLength = payload.Length }, payload);
    }

    // Estimated bytes of a model: payload (the ideal cost of its counts under its frequencies, plus the states) and table.
    static long Cost(PlaneCode code, long[] counts)
    {
        long cost = 0; // in 2^-16 bits
        for (var i = 0; i < counts.Length; i++)
            if (counts[i] > 0) cost += counts[i] * (((long)code.Bits << 16) - Log2Fixed(code.Freqs[i]));
        var payload = (cost + (8L << 16) - 1) / (8L << 16) + Rans.StateBytes;
        return payload + TableLength(code with { PayloadLength = (int)Math.Min(payload, int.MaxValue) });
    }

    /// <summary>
    /// log2(<paramref name="f"/>) in units of 2^-16, by integer arithmetic alone, so that every machine
    /// makes the same choices: the integer part from the bit length, then 16 fraction bits by repeated squaring.
    /// </summary>
    internal static long Log2Fixed(int f)
    {
        var whole = 31 - System.Numerics.BitOperations.LeadingZeroCount((uint)f);
        var y = ((ulong)f << 30) >> whole; // f / 2^whole in [1, 2), 30 fraction bits
        var result = (long)whole << 16;
        for (var bit = 15; bit >= 0; bit--)
        {
            y = (y * y) >> 30;
            if (y >= 2UL << 30) { y >>= 1; result |= 1L << bit; }
        }
        return result;
    }

    static int TableLength(PlaneCode code)
    {
        var length = 1 + IndexWriter.VarintLength((ulong)code.Alphabet.Length) + IndexWriter.VarintLength((ulong)code.PayloadLength);
        var previous = -1;
        foreach (var s in code.Alphabet) { length += IndexWriter.VarintLength((ulong)(s - previous - 1)); previous = s; }
        foreach (var f in code.Freqs) length += IndexWriter.VarintLength((ulong)f);
        return length;
    }

    /// <summary>Writes a plane's description into the index.</summary>
    public static void Write(IndexWriter index, PlaneCode code)
    {
        index.Byte((byte)code.Kind);
        if (code.Kind == PlaneKind.Raw) return;
        index.Varint((ulong)code.Alphabet.Length);
        var previous = -1;
        foreach (var s in code.Alphabet) { index.Varint((ulong)(s - previous - 1)); previous = s; }
        foreach (var f in code.Freqs) index.Varint((ulong)f);
        index.Varint((ulong)code.PayloadLength);
    }

    /// <summary>Reads and validates a plane's description; <paramref name="elements"/> is the plane's length (a raw plane's payload).</summary>
    public static PlaneCode Read(IndexReader index, int elements)
    {
        var kind = (PlaneKind)index.Byte();
        if (kind == PlaneKind.Raw) return new PlaneCode(kind, [], [], elements);
        if (kind is not (PlaneKind.Order0 or PlaneKind.Order1)) throw index.Error($"unknown plane kind {(byte)kind}");
        var k = index.Int(kind == PlaneKind.Order1 ? Rans.MaxOrder1Symbols : 256, "alphabet size");
        if (k == 0) throw index.Error("an empty alphabet");
        var alphabet = new byte[k];
        var previous = -1L;
        for (var i = 0; i < k; i++)
        {
            var s = previous + 1 + (long)index.Varint(255, "symbol");
            if (s > 255) throw index.Error("symbols beyond 255 or not ascending");
            alphabet[i] = (byte)s;
            previous = s;
        }
        var contexts = kind == PlaneKind.Order1 ? k : 1;
        var m = 1 << (kind == PlaneKind.Order1 ? Rans.Order1Bits : Rans.Order0Bits);
        var freqs = new int[contexts * k];
        for (var r = 0; r < contexts; r++)
        {
            long sum = 0;
            for (var s = 0; s < k; s++)
            {
                var f = index.Int(m, "frequency");
                if (f == 0 && kind == PlaneKind.Order0) throw index.Error("an order-0 table lists a symbol of frequency 0");
                freqs[r * k + s] = f;
                sum += f;
            }
            // An order-1 row that no symbol is coded after may be empty; any other row fills the whole range.
            if (sum != m && !(sum == 0 && kind == PlaneKind.Order1)) throw index.Error($"frequencies sum to {sum}, not {m}");
        }
        var payload = index.Int(int.MaxValue, "payload length");
        if (payload < Rans.StateBytes) throw index.Error("a rANS payload shorter than its states");
        return new PlaneCode(kind, alphabet, freqs, payload);
    }

    /// <summary>Decodes the planes stored in <paramref name="stored"/> (their payloads, in order) into <paramref name="output"/>.</summary>
    public static void Decode(ReadOnlySpan<byte> stored, IReadOnlyList<PlaneCode> planes, Span<byte> output, long fileOffset)
    {
        var size = planes.Count;
        var count = output.Length / size;
        var at = 0;
        for (var p = 0; p < size; p++)
        {
            var code = planes[p];
            var payload = stored.Slice(at, code.PayloadLength);
            if (code.Kind == PlaneKind.Raw)
                for (var i = 0; i < count; i++) output[i * size + p] = payload[i];
            else
                Rans.Decode(payload, code.Alphabet, code.Freqs, code.Contexts, code.Bits, output, p, size, count, fileOffset + at);
            at += code.PayloadLength;
        }
    }

    /// <summary>Byte p of every element together, plane after plane (the order inline tensors are stored in).</summary>
    public static byte[] Split(ReadOnlySpan<byte> data, int elementSize)
    {
        if (elementSize == 1) return data.ToArray();
        var count = data.Length / elementSize;
        var planes = new byte[data.Length];
        for (var i = 0; i < count; i++)
            for (var p = 0; p < elementSize; p++) planes[p * count + i] = data[i * elementSize + p];
        return planes;
    }

    /// <summary>The inverse of <see cref="Split"/>, into <paramref name="data"/> (as long as <paramref name="planes"/>).</summary>
    public static void Join(ReadOnlySpan<byte> planes, int elementSize, Span<byte> data)
    {
        var count = planes.Length / elementSize;
        for (var i = 0; i < count; i++)
            for (var p = 0; p < elementSize; p++) data[i * elementSize + p] = planes[p * count + i];
    }
}

namespace ModelBuildTasks.Container;

/// <summary>
/// Canonical Huffman coding of byte symbols. A code is described by one length per symbol
/// (0 = unused, at most <see cref="MaxLength"/>); codes are assigned in order of (length, symbol),
/// so the lengths alone define the code, which is all a file needs to store.
/// </summary>
public static class Huffman
{
    /// <summary>The longest code allowed.</summary>
    public const int MaxLength = 24;

    /// <summary>Optimal code lengths for the given symbol frequencies (256 entries), limited to <see cref="MaxLength"/> bits.</summary>
    public static byte[] CodeLengths(ReadOnlySpan<long> frequencies)
    {
        var counts = frequencies.ToArray();
        while (true)
        {
            var lengths = Build(counts);
            if (lengths.Max() <= MaxLength) return lengths;
            // Too deep (very skewed counts): flatten the distribution and build again.
            for (var i = 0; i < counts.Length; i++) if (counts[i] > 0) counts[i] = (counts[i] + 1) / 2;
        }
    }

    static byte[] Build(long[] counts)
    {
        var lengths = new byte[256];
        var used = Enumerable.Range(0, 256).Where(s => counts[s] > 0).ToList();
        if (used.Count == 0) return lengths;
        if (used.Count == 1) { lengths[used[0]] = 1; return lengths; }
        // Nodes: 0..255 leaves, then internal nodes; ties broken by node index so the result is deterministic.
        var parent = new int[512];
        var queue = new PriorityQueue<int, (long, int)>();
        foreach (var s in used) queue.Enqueue(s, (counts[s], s));
        var weight = new long[512];
        foreach (var s in used) weight[s] = counts[s];
        var next = 256;
        while (queue.Count > 1)
        {
            var a = queue.Dequeue();
            var b = queue.Dequeue();
            weight[next] = weight[a] + weight[b];
            parent[a] = parent[b] = next;
            queue.Enqueue(next, (weight[next], next));
            next++;
        }
        var root = next - 1;
        foreach (var s in used)
        {
            var depth = 0;
            for (var n = s; n != root; n = parent[n]) depth++;
            lengths[s] = (byte)Math.Min(depth, 255);
        }
        return lengths;
    }

    /// <summary>The canonical codes for the given lengths (code of symbol s in the low <c>lengths[s]</c> bits).</summary>
    public static uint[] Codes(ReadOnlySpan<byte> lengths)
    {
        var codes = new uint[256];
        uint code = 0;
        for (var length = 1; length <= MaxLength; length++)
        {
            for (var s = 0; s < 256; s++)
                if (lengths[s] == length) codes[s] = code++;
            code <<= 1;
        }
        return codes;
    }

    /// <summary>True when the lengths form a valid prefix code (Kraft sum at most 1, every length within limits).</summary>
    public static bool IsValid(ReadOnlySpan<byte> lengths)
    {
        double kraft = 0;
        foreach (var l in lengths)
        {
            if (l > MaxLength) return false;
            if (l > 0) kraft += Math.Pow(2, -l);
        }
        return kraft <= 1.0 + 1e-12;
    }

    /// <summary>A decoder for canonical codes: reads one symbol at a time from a <see cref="BitReader"/>.</summary>
    public sealed class Decoder
    {
        readonly int[] firstCode = new int[MaxLength + 2];
        readonly int[] firstIndex = new int[MaxLength + 2];
        readonly int[] count = new int[MaxLength + 2];
        readonly byte[] symbols;
        readonly int singleSymbol = -1;

        /// <summary>Builds the decoder; the lengths must be valid (<see cref="IsValid"/>).</summary>
        public Decoder(ReadOnlySpan<byte> lengths)
        {
            var sorted = new List<byte>();
            for (var length = 1; length <= MaxLength; length++)
                for (var s = 0; s < 256; s++)
                    if (lengths[s] == length) { sorted.Add((byte)s); count[length]++; }
            symbols = sorted.ToArray();
            if (symbols.Length == 1) singleSymbol = symbols[0];
            int code = 0, index = 0;
            for (var length = 1; length <= MaxLength; length++)
            {
                firstCode[length] = code;
                firstIndex[length] = index;
                code = (code + count[length]) << 1;
                index += count[length];
            }
        }

        /// <summary>Reads one symbol.</summary>
        /// <exception cref="ContainerFormatException">The bits run out or form no code.</exception>
        public byte Read(BitReader bits)
        {
            if (singleSymbol >= 0) { bits.ReadBit(); return (byte)singleSymbol; }
            var code = 0;
            for (var length = 1; length <= MaxLength; length++)
            {
                code = (code << 1) | bits.ReadBit();
                var offset = code - firstCode[length];
                if (offset >= 0 && offset < count[length]) return symbols[firstIndex[length] + offset];
            }
            throw new ContainerFormatException("the coded data holds a bit pattern that is no code", bits.Position);
        }
    }
}

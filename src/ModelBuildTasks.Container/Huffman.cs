namespace ModelBuildTasks.Container;

/// <summary>
/// Canonical Huffman decoding of byte symbols, for version-1 files. A code is described by one length
/// per symbol (0 = unused, at most <see cref="MaxLength"/>); codes are assigned in order of (length,
/// symbol), so the lengths alone define the code, which is all a file stores.
/// </summary>
static class Huffman
{
    /// <summary>The longest code allowed.</summary>
    public const int MaxLength = 24;

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

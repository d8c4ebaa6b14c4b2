using System.Buffers.Binary;

namespace ModelBuildTasks.Container;

/// <summary>
/// The entropy-coded encodings of 1-byte tensors (docs/format.md): <see cref="TensorEncoding.Huffman"/>
/// and <see cref="TensorEncoding.SparseHuffman"/>. Decoding checks every count and position, so a
/// crafted stream fails with <see cref="ContainerFormatException"/>.
/// </summary>
public static class EntropyCoding
{

    /// <summary>Order-0 entropy of the bytes, in bytes: the bound for any code that codes each byte alone.</summary>
    public static double EntropyBound(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty) return 0;
        var counts = new long[256];
        foreach (var b in data) counts[b]++;
        double bits = 0;
        foreach (var c in counts)
            if (c > 0) bits -= c * Math.Log2((double)c / data.Length);
        return bits / 8;
    }

    /// <summary>Huffman-codes every byte: symbol table, then the bit stream.</summary>
    public static byte[] EncodeHuffman(ReadOnlySpan<byte> data)
    {
        var counts = new long[256];
        foreach (var b in data) counts[b]++;
        var lengths = Huffman.CodeLengths(counts);
        var codes = Huffman.Codes(lengths);
        var bits = new BitWriter();
        foreach (var b in data) bits.Write(codes[b], lengths[b]);
        return [.. Table(lengths), .. bits.ToArray()];
    }

    /// <summary>Decodes <see cref="EncodeHuffman"/> output into exactly <paramref name="length"/> bytes.</summary>
    public static byte[] DecodeHuffman(ReadOnlyMemory<byte> stored, long length, long fileOffset)
    {
        var (lengths, used) = ReadTable(stored.Span, fileOffset);
        var decoder = new Huffman.Decoder(lengths);
        var bits = new BitReader(stored[used..], fileOffset + used);
        if (length > 0 && lengths.All(l => l == 0)) throw new ContainerFormatException("an empty code table for a non-empty tensor", fileOffset);
        var result = new byte[length];
        for (var i = 0; i < length; i++) result[i] = decoder.Read(bits);
        return result;
    }

    /// <summary>Codes the nonzero bytes as (gap since the previous nonzero, value) pairs.</summary>
    public static byte[] EncodeSparse(ReadOnlySpan<byte> data)
    {
        var gaps = new List<uint>();
        var values = new List<byte>();
        var previous = -1L;
        for (var i = 0; i < data.Length; i++)
        {
            if (data[i] == 0) continue;
            gaps.Add((uint)(i - previous - 1));
            values.Add(data[i]);
            previous = i;
        }
        var gapCounts = new long[256];
        var valueCounts = new long[256];
        foreach (var g in gaps) gapCounts[Bucket(g)]++;
        foreach (var v in values) valueCounts[v]++;
        var gapLengths = Huffman.CodeLengths(gapCounts);
        var valueLengths = Huffman.CodeLengths(valueCounts);
        var gapCodes = Huffman.Codes(gapLengths);
        var valueCodes = Huffman.Codes(valueLengths);
        var bits = new BitWriter();
        for (var k = 0; k < gaps.Count; k++)
        {
            var bucket = Bucket(gaps[k]);
            bits.Write(gapCodes[bucket], gapLengths[bucket]);
            bits.Write((uint)((gaps[k] + 1UL) & ((1UL << (bucket - 1)) - 1)), bucket - 1); // the bits below the leading 1
            bits.Write(valueCodes[values[k]], valueLengths[values[k]]);
        }
        var header = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(header, (uint)gaps.Count);
        return [.. header, .. Table(gapLengths), .. Table(valueLengths), .. bits.ToArray()];
    }

    /// <summary>Decodes <see cref="EncodeSparse"/> output into exactly <paramref name="length"/> bytes.</summary>
    public static byte[] DecodeSparse(ReadOnlyMemory<byte> stored, long length, long fileOffset)
    {
        if (stored.Length < 4) throw new ContainerFormatException("a sparse tensor is truncated", fileOffset);
        var nonzero = BinaryPrimitives.ReadUInt32LittleEndian(stored.Span);
        if (nonzero > length) throw new ContainerFormatException($"a sparse tensor declares {nonzero} nonzeros in {length} values", fileOffset);
        var (gapLengths, gapUsed) = ReadTable(stored.Span[4..], fileOffset + 4);
        var (valueLengths, valueUsed) = ReadTable(stored.Span[(4 + gapUsed)..], fileOffset + 4 + gapUsed);
        var start = 4 + gapUsed + valueUsed;
        var bits = new BitReader(stored[start..], fileOffset + start);
        var gapDecoder = new Huffman.Decoder(gapLengths);
        var valueDecoder = new Huffman.Decoder(valueLengths);
        var result = new byte[length];
        var position = -1L;
        for (var k = 0; k < nonzero; k++)
        {
            int bucket = gapDecoder.Read(bits);
            if (bucket is < 1 or > 33) throw new ContainerFormatException("a sparse tensor has an invalid gap code", bits.Position);
            var gapPlusOne = (1L << (bucket - 1)) | bits.Read(bucket - 1);
            position += gapPlusOne;
            if (position >= length) throw new ContainerFormatException("a sparse tensor has a position past its end", bits.Position);
            result[position] = valueDecoder.Read(bits);
        }
        return result;
    }

    // Gap g is coded as the bit length of g + 1 (1..33, Huffman-coded), then its bits below the leading 1.
    static int Bucket(uint gap) => 64 - System.Numerics.BitOperations.LeadingZeroCount(gap + 1UL);

    // A code table in the smaller of two forms: 0 = uint16 count + (symbol, length) pairs of the used
    // symbols; 1 = the 256 lengths, 5 bits each (160 bytes).
    static byte[] Table(byte[] lengths)
    {
        var used = Enumerable.Range(0, 256).Where(s => lengths[s] > 0).ToList();
        if (3 + 2 * used.Count <= 161)
        {
            var pairs = new byte[3 + 2 * used.Count];
            BinaryPrimitives.WriteUInt16LittleEndian(pairs.AsSpan(1), (ushort)used.Count);
            for (var i = 0; i < used.Count; i++) { pairs[3 + 2 * i] = (byte)used[i]; pairs[4 + 2 * i] = lengths[used[i]]; }
            return pairs;
        }
        var dense = new BitWriter();
        dense.Write(1, 8);
        foreach (var l in lengths) dense.Write(l, 5);
        return dense.ToArray();
    }

    static (byte[] Lengths, int Used) ReadTable(ReadOnlySpan<byte> stored, long fileOffset)
    {
        if (stored.Length < 1) throw new ContainerFormatException("a code table is truncated", fileOffset);
        var lengths = new byte[256];
        int used;
        if (stored[0] == 1)
        {
            if (stored.Length < 161) throw new ContainerFormatException("a code table is truncated", fileOffset);
            var bits = new BitReader(stored[1..161].ToArray(), fileOffset + 1);
            for (var s = 0; s < 256; s++) lengths[s] = (byte)bits.Read(5);
            used = 161;
        }
        else if (stored[0] == 0 && stored.Length >= 3)
        {
            var count = BinaryPrimitives.ReadUInt16LittleEndian(stored[1..]);
            if (count > 256 || stored.Length < 3 + 2 * count) throw new ContainerFormatException("a code table is truncated or too long", fileOffset);
            for (var i = 0; i < count; i++)
            {
                var symbol = stored[3 + 2 * i];
                var length = stored[4 + 2 * i];
                if (length == 0 || lengths[symbol] != 0) throw new ContainerFormatException("a code table has an invalid entry", fileOffset + 3 + 2 * i);
                lengths[symbol] = length;
            }
            used = 3 + 2 * count;
        }
        else throw new ContainerFormatException("a code table is truncated or of an unknown form", fileOffset);
        if (lengths.Any(l => l > Huffman.MaxLength) || !Huffman.IsValid(lengths)) throw new ContainerFormatException("a code table is not a valid prefix code", fileOffset);
        return (lengths, used);
    }
}

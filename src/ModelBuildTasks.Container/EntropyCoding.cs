using System.Buffers.Binary;

namespace ModelBuildTasks.Container;

/// <summary>
/// The entropy bound that reports measure stored sizes against, and the decoders of version 1's
/// entropy-coded encodings (<see cref="TensorEncoding.Huffman"/>, <see cref="TensorEncoding.SparseHuffman"/>),
/// kept so that version-1 files stay readable; nothing writes them any more. Decoding checks every
/// count and position, so a crafted stream fails with <see cref="ContainerFormatException"/>.
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

    /// <summary>Decodes a version-1 <see cref="TensorEncoding.Huffman"/> tensor into exactly <paramref name="length"/> bytes.</summary>
    internal static byte[] DecodeHuffman(ReadOnlyMemory<byte> stored, long length, long fileOffset)
    {
        var (lengths, used) = ReadTable(stored.Span, fileOffset);
        var decoder = new Huffman.Decoder(lengths);
        var bits = new BitReader(stored[used..], fileOffset + used);
        if (length > 0 && lengths.All(l => l == 0)) throw new ContainerFormatException("an empty code table for a non-empty tensor", fileOffset);
        var result = new byte[length];
        for (var i = 0; i < length; i++) result[i] = decoder.Read(bits);
        return result;
    }

    /// <summary>Decodes a version-1 <see cref="TensorEncoding.SparseHuffman"/> tensor into exactly <paramref name="length"/> bytes.</summary>
    internal static byte[] DecodeSparse(ReadOnlyMemory<byte> stored, long length, long fileOffset)
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
        // Gap g is coded as the bit length of g + 1 (1..33, Huffman-coded), then its bits below the leading 1.
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

namespace ModelBuildTasks.Container;

/// <summary>Writes bits most-significant first.</summary>
public sealed class BitWriter
{
    readonly List<byte> bytes = [];
    int current, used;

    /// <summary>Appends the low <paramref name="length"/> bits of <paramref name="value"/>.</summary>
    public void Write(uint value, int length)
    {
        for (var i = length - 1; i >= 0; i--)
        {
            current = (current << 1) | (int)((value >> i) & 1);
            if (++used == 8) { bytes.Add((byte)current); current = 0; used = 0; }
        }
    }

    /// <summary>The bytes, the last one padded with zero bits.</summary>
    public byte[] ToArray()
    {
        var result = new List<byte>(bytes);
        if (used > 0) result.Add((byte)(current << (8 - used)));
        return result.ToArray();
    }
}

/// <summary>Reads bits most-significant first, failing cleanly past the end.</summary>
public sealed class BitReader(ReadOnlyMemory<byte> data, long baseOffset)
{
    long bit;

    /// <summary>The byte offset in the file (for error messages).</summary>
    public long Position => baseOffset + bit / 8;

    /// <summary>Reads one bit.</summary>
    public int ReadBit()
    {
        if (bit >= (long)data.Length * 8) throw new ContainerFormatException("the coded data ends too early", Position);
        var value = (data.Span[(int)(bit >> 3)] >> (7 - (int)(bit & 7))) & 1;
        bit++;
        return value;
    }

    /// <summary>Reads <paramref name="length"/> bits as an unsigned number.</summary>
    public uint Read(int length)
    {
        uint value = 0;
        for (var i = 0; i < length; i++) value = (value << 1) | (uint)ReadBit();
        return value;
    }
}

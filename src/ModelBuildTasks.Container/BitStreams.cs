namespace ModelBuildTasks.Container;

/// <summary>Reads bits most-significant first, failing cleanly past the end.</summary>
sealed class BitReader(ReadOnlyMemory<byte> data, long baseOffset)
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

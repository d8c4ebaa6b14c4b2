namespace ModelBuildTasks.Container;

/// <summary>Builds the decoded index of a version-2 container: bytes and LEB128 varints.</summary>
sealed class IndexWriter
{
    byte[] buffer = new byte[4096];

    public int Length { get; private set; }

    public void Byte(byte value)
    {
        Reserve(1);
        buffer[Length++] = value;
    }

    public void Varint(ulong value)
    {
        Reserve(10);
        while (value >= 0x80) { buffer[Length++] = (byte)(value | 0x80); value >>= 7; }
        buffer[Length++] = (byte)value;
    }

    public void Bytes(ReadOnlySpan<byte> value)
    {
        Reserve(value.Length);
        value.CopyTo(buffer.AsSpan(Length));
        Length += value.Length;
    }

    /// <summary>A length-prefixed byte string.</summary>
    public void Blob(ReadOnlySpan<byte> value)
    {
        Varint((ulong)value.Length);
        Bytes(value);
    }

    public ReadOnlySpan<byte> Written => buffer.AsSpan(0, Length);

    void Reserve(int more)
    {
        if (Length + more <= buffer.Length) return;
        Array.Resize(ref buffer, (int)Math.Min(Array.MaxLength, Math.Max((long)buffer.Length * 2, (long)Length + more)));
    }

    /// <summary>The bytes a varint of <paramref name="value"/> takes.</summary>
    public static int VarintLength(ulong value)
    {
        var length = 1;
        while (value >= 0x80) { value >>= 7; length++; }
        return length;
    }
}

/// <summary>
/// Reads the decoded index of a version-2 container. Every read is checked against what remains and
/// against the caller's cap, so a crafted index fails with <see cref="ContainerFormatException"/>;
/// errors name the index's byte position and the file offset where the index section starts.
/// </summary>
sealed class IndexReader(byte[] index, long fileOffset)
{
    public int Position { get; private set; }

    public int Remaining => index.Length - Position;

    public ContainerFormatException Error(string message) => new($"{message} (index byte {Position})", fileOffset);

    public byte Byte()
    {
        if (Position >= index.Length) throw Error("the index ends too early");
        return index[Position++];
    }

    /// <summary>A varint of at most <paramref name="max"/>; longer than 10 bytes, or above the cap, is an error.</summary>
    public ulong Varint(ulong max, string what)
    {
        ulong value = 0;
        for (var shift = 0; ; shift += 7)
        {
            if (shift > 63) throw Error($"{what}: a varint longer than 10 bytes");
            var b = Byte();
            if (shift == 63 && b > 1) throw Error($"{what}: a varint beyond 64 bits");
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) break;
        }
        if (value > max) throw Error($"{what}: {value} is more than the limit of {max}");
        return value;
    }

    public int Int(int max, string what) => (int)Varint((ulong)max, what);

    public ReadOnlySpan<byte> Bytes(int length, string what)
    {
        if (length > Remaining) throw Error($"{what}: {length} bytes run past the end of the index");
        var span = index.AsSpan(Position, length);
        Position += length;
        return span;
    }

    /// <summary>A length-prefixed byte string of at most <paramref name="max"/> bytes.</summary>
    public ReadOnlySpan<byte> Blob(int max, string what) => Bytes(Int(max, what + " length"), what);
}

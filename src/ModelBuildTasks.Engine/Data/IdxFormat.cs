using System.Buffers.Binary;
using System.IO.Compression;

namespace ModelBuildTasks.Data;

/// <summary>
/// The IDX format of MNIST and Fashion-MNIST: a big-endian header (magic with element type and
/// rank, then one 32-bit size per dimension) followed by the values. Files may be gzip-compressed.
/// </summary>
public static class IdxFormat
{
    const byte UnsignedByte = 0x08;
    const long MaxBytes = int.MaxValue;

    /// <summary>Reads an unsigned-byte IDX file; returns its dimensions and values.</summary>
    public static (int[] Dims, byte[] Values) Read(string path)
    {
        var bytes = ReadMaybeGzip(path);
        if (bytes.Length < 4 || bytes[0] != 0 || bytes[1] != 0)
            throw DataErrors.Invalid(path, "not an IDX file (bad magic number)");
        if (bytes[2] != UnsignedByte)
            throw DataErrors.Invalid(path, $"IDX element type 0x{bytes[2]:x2} is not supported (only unsigned bytes)");
        var rank = bytes[3];
        if (rank is < 1 or > 4 || bytes.Length < 4 + 4 * rank)
            throw DataErrors.Invalid(path, $"IDX header is damaged (rank {rank}, {bytes.Length} bytes)");
        var dims = new int[rank];
        long count = 1;
        for (var i = 0; i < rank; i++)
        {
            var d = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(4 + 4 * i));
            if (d < 0) throw DataErrors.Invalid(path, "IDX header has a negative size");
            dims[i] = d;
            count *= d;
            if (count > MaxBytes) throw DataErrors.Invalid(path, "IDX header declares more data than can be read");
        }
        var header = 4 + 4 * rank;
        if (bytes.Length - header != count)
            throw DataErrors.Invalid(path, $"IDX header declares {count} values but the file holds {bytes.Length - header} (truncated?)");
        return (dims, bytes[header..]);
    }

    /// <summary>Writes an unsigned-byte IDX file, gzip-compressed when the name ends in <c>.gz</c> (atomically).</summary>
    public static void Write(string path, int[] dims, ReadOnlySpan<byte> values)
    {
        var header = new byte[4 + 4 * dims.Length];
        header[2] = UnsignedByte;
        header[3] = (byte)dims.Length;
        for (var i = 0; i < dims.Length; i++) BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4 + 4 * i), dims[i]);
        var data = values.ToArray();
        AtomicFile.Write(path, stream =>
        {
            if (!path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase))
            {
                stream.Write(header);
                stream.Write(data);
                return;
            }
            using var gzip = new GZipStream(stream, CompressionLevel.SmallestSize, leaveOpen: true);
            gzip.Write(header);
            gzip.Write(data);
        });
    }

    /// <summary>Reads a whole file, decompressing it when it starts with the gzip magic bytes.</summary>
    internal static byte[] ReadMaybeGzip(string path)
    {
        byte[] raw;
        try
        {
            raw = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelBuildException(ErrorCodes.DatasetNotFound, $"cannot read the dataset: {e.Message}", path);
        }
        if (raw.Length < 2 || raw[0] != 0x1f || raw[1] != 0x8b) return raw;
        try
        {
            using var gzip = new GZipStream(new MemoryStream(raw), CompressionMode.Decompress);
            using var result = new MemoryStream();
            gzip.CopyTo(result);
            return result.ToArray();
        }
        catch (InvalidDataException e)
        {
            throw DataErrors.Invalid(path, $"the gzip data is damaged: {e.Message}");
        }
    }
}

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

    /// <summary>Reads an unsigned-byte IDX file; returns its dimensions and values.</summary>
    /// <remarks>
    /// The header is read first; its size must be within <see cref="DatasetLimits.MaxValues"/> and is
    /// checked against what the file holds (plain) or bounds the inflation (gzip), so a gzip bomb or
    /// a lying header costs at most what the file really holds, up to the size the header declares.
    /// </remarks>
    public static (int[] Dims, byte[] Values) Read(string path)
    {
        using var file = InputFile.OpenRegular(path, ErrorCodes.DatasetNotFound);
        try
        {
            var gzip = file.Length >= 2 && file.ReadByte() == 0x1f && file.ReadByte() == 0x8b;
            file.Position = 0;
            using var source = gzip ? new GZipStream(file, CompressionMode.Decompress, leaveOpen: true) : (Stream)file;
            var magic = new byte[4];
            if (source.ReadAtLeast(magic, 4, throwOnEndOfStream: false) < 4 || magic[0] != 0 || magic[1] != 0)
                throw DataErrors.Invalid(path, "not an IDX file (bad magic number)");
            if (magic[2] != UnsignedByte)
                throw DataErrors.Invalid(path, $"IDX element type 0x{magic[2]:x2} is not supported (only unsigned bytes)");
            var rank = magic[3];
            var sizes = new byte[4 * Math.Clamp((int)rank, 0, 4)];
            if (rank is < 1 or > 4 || source.ReadAtLeast(sizes, sizes.Length, throwOnEndOfStream: false) < sizes.Length)
                throw DataErrors.Invalid(path, $"IDX header is damaged (rank {rank})");
            var dims = new int[rank];
            for (var i = 0; i < rank; i++)
            {
                dims[i] = BinaryPrimitives.ReadInt32BigEndian(sizes.AsSpan(4 * i));
                if (dims[i] < 0) throw DataErrors.Invalid(path, "IDX header has a negative size");
            }
            var count = DatasetLimits.CheckedProduct(dims.Select(d => (long)d), DatasetLimits.MaxValues, path, "the IDX header");
            byte[] values;
            if (!gzip)
            {
                // What remains in the file is known: a header claiming more fails before anything is allocated.
                var remaining = file.Length - file.Position;
                if (remaining != count)
                    throw DataErrors.Invalid(path, $"IDX header declares {count} values but the file holds {remaining} (truncated?)");
                values = new byte[count];
                file.ReadExactly(values);
            }
            else
            {
                // Compressed, the size is unknown until inflated: grow with what really arrives, never past the declared size.
                values = DatasetLimits.ReadToEndBounded(source, count, path, "the IDX data (more than its header declares)");
                if (values.Length != count)
                    throw DataErrors.Invalid(path, $"IDX header declares {count} values but the file holds {values.Length} (truncated?)");
            }
            return (dims, values);
        }
        catch (InvalidDataException e)
        {
            throw DataErrors.Invalid(path, $"the gzip data is damaged: {e.Message}");
        }
        catch (IOException e)
        {
            throw new ModelBuildException(ErrorCodes.DatasetNotFound, $"cannot read the dataset: {e.Message}", path);
        }
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

    /// <summary>Reads a whole file (at most <see cref="DatasetLimits.MaxFileBytes"/>), decompressing it, within the same limit, when it starts with the gzip magic bytes.</summary>
    internal static byte[] ReadMaybeGzip(string path)
    {
        var raw = InputFile.ReadAllBytes(path, DatasetLimits.MaxFileBytes, ErrorCodes.DatasetNotFound, ErrorCodes.InvalidDataset);
        if (raw.Length < 2 || raw[0] != 0x1f || raw[1] != 0x8b) return raw;
        try
        {
            using var gzip = new GZipStream(new MemoryStream(raw), CompressionMode.Decompress);
            return DatasetLimits.ReadToEndBounded(gzip, DatasetLimits.MaxFileBytes, path, "the gzip data");
        }
        catch (InvalidDataException e)
        {
            throw DataErrors.Invalid(path, $"the gzip data is damaged: {e.Message}");
        }
    }
}

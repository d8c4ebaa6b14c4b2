using System.Buffers.Binary;
using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;

namespace ModelBuildTasks.Data;

/// <summary>
/// NumPy's <c>.npy</c> arrays and <c>.npz</c> archives of them. Supports C-order arrays of
/// uint8, int8, int32, int64, float32, float64 and bool; values are returned as doubles so callers
/// handle one type.
/// </summary>
public static partial class NpyFormat
{
    /// <summary>An array read from a .npy file.</summary>
    /// <param name="Shape">The dimensions.</param>
    /// <param name="Values">The values, row-major.</param>
    /// <param name="Descr">The NumPy type string, e.g. <c>&lt;f4</c>.</param>
    public sealed record NpyArray(int[] Shape, double[] Values, string Descr)
    {
        /// <summary>True for unsigned byte arrays (raw pixels).</summary>
        public bool IsUInt8 => Descr.EndsWith("u1", StringComparison.Ordinal);
    }

    /// <summary>Reads the arrays of a .npz archive by name (without the .npy suffix).</summary>
    public static Dictionary<string, NpyArray> ReadNpz(string path)
    {
        var result = new Dictionary<string, NpyArray>(StringComparer.Ordinal);
        try
        {
            using var file = InputFile.OpenRegular(path, ErrorCodes.DatasetNotFound);
            using var zip = new ZipArchive(file, ZipArchiveMode.Read);
            long total = 0;
            foreach (var entry in zip.Entries.Where(e => e.FullName.EndsWith(".npy", StringComparison.Ordinal)))
            {
                // The declared size bounds the read; the real stream may still lie, so the read is bounded too.
                total += entry.Length;
                if (entry.Length > DatasetLimits.MaxFileBytes || total > DatasetLimits.MaxFileBytes)
                    throw DataErrors.Invalid(path, $"array '{entry.FullName}' is larger than the limit of {DatasetLimits.MaxFileBytes:N0} bytes");
                using var stream = entry.Open();
                var bytes = DatasetLimits.ReadToEndBounded(stream, entry.Length, path, $"array '{entry.FullName}'");
                result[entry.FullName[..^4]] = Parse(bytes, $"{path}:{entry.FullName}");
            }
        }
        catch (InvalidDataException e)
        {
            throw DataErrors.Invalid(path, $"not a valid .npz (zip) archive: {e.Message}");
        }
        catch (IOException e)
        {
            throw DataErrors.Invalid(path, $"cannot read the .npz archive: {e.Message}");
        }
        return result;
    }

    /// <summary>Reads a .npy file.</summary>
    public static NpyArray Read(string path) => Parse(IdxFormat.ReadMaybeGzip(path), path);

    /// <summary>Parses the bytes of a .npy file.</summary>
    public static NpyArray Parse(byte[] bytes, string displayPath)
    {
        if (bytes.Length < 10 || bytes[0] != 0x93 || Encoding.ASCII.GetString(bytes, 1, 5) != "NUMPY")
            throw DataErrors.Invalid(displayPath, "not a .npy file (bad magic)");
        var major = bytes[6];
        int headerLength, headerStart;
        if (major == 1) { headerLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8)); headerStart = 10; }
        else if (major is 2 or 3 && bytes.Length >= 12) { headerLength = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(8)); headerStart = 12; }
        else throw DataErrors.Invalid(displayPath, $".npy version {major} is not supported");
        if (headerLength < 0 || headerStart + headerLength > bytes.Length) throw DataErrors.Invalid(displayPath, ".npy header is truncated");
        var header = Encoding.Latin1.GetString(bytes, headerStart, headerLength);

        var descr = DescrPattern().Match(header) is { Success: true } d ? d.Groups[1].Value : throw DataErrors.Invalid(displayPath, ".npy header has no descr");
        if (FortranPattern().IsMatch(header)) throw DataErrors.Invalid(displayPath, "Fortran-order .npy arrays are not supported");
        var shapeText = ShapePattern().Match(header) is { Success: true } s ? s.Groups[1].Value : throw DataErrors.Invalid(displayPath, ".npy header has no shape");
        var shape = shapeText.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(t => int.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : throw DataErrors.Invalid(displayPath, $".npy shape '{shapeText}' is invalid"))
            .ToArray();

        var (size, read) = Decoder(descr, displayPath);
        var count = DatasetLimits.CheckedProduct(shape.Select(v => (long)v), DatasetLimits.MaxValues, displayPath, $".npy shape ({shapeText})");
        var data = bytes.AsSpan(headerStart + headerLength);
        if (count * size != data.Length)
            throw DataErrors.Invalid(displayPath, $".npy shape ({shapeText}) needs {count * size} bytes of data but the file has {data.Length}");
        var values = new double[count];
        for (var i = 0; i < count; i++) values[i] = read(data.Slice(i * size, size));
        return new NpyArray(shape, values, descr);
    }

    delegate double ReadOne(ReadOnlySpan<byte> bytes);

    static (int Size, ReadOne Read) Decoder(string descr, string displayPath)
    {
        if (descr.StartsWith('>')) throw DataErrors.Invalid(displayPath, $"big-endian .npy data ({descr}) is not supported");
        return descr.TrimStart('<', '|', '=') switch
        {
            "u1" => (1, b => b[0]),
            "b1" => (1, b => b[0] != 0 ? 1 : 0),
            "i1" => (1, b => (sbyte)b[0]),
            "i4" => (4, b => BinaryPrimitives.ReadInt32LittleEndian(b)),
            "i8" => (8, b => BinaryPrimitives.ReadInt64LittleEndian(b)),
            "f4" => (4, b => BinaryPrimitives.ReadSingleLittleEndian(b)),
            "f8" => (8, b => BinaryPrimitives.ReadDoubleLittleEndian(b)),
            _ => throw DataErrors.Invalid(displayPath, $".npy element type '{descr}' is not supported"),
        };
    }

    [GeneratedRegex(@"'descr'\s*:\s*'([^']+)'")]
    private static partial Regex DescrPattern();
    [GeneratedRegex(@"'fortran_order'\s*:\s*True")]
    private static partial Regex FortranPattern();
    [GeneratedRegex(@"'shape'\s*:\s*\(([^)]*)\)")]
    private static partial Regex ShapePattern();
}

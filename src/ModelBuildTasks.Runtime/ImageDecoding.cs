using System.Buffers.Binary;
using StbImageSharp;

namespace ModelBuildTasks.Runtime;

/// <summary>
/// Image files decoded after their header is checked, one path for the engine's image folders and the
/// shipped runtime's <c>PredictImage</c> (the engine links this file). The decoder trusts headers: a
/// few bytes can claim a size whose allocation takes the process down, and a BMP cut short decodes
/// without complaint, its missing rows zero-filled, to an image the model then classifies.
/// </summary>
internal static class ImageDecoding
{
    /// <summary>The most pixels an image may claim (the engine's <c>DatasetLimits.MaxImagePixels</c> too).</summary>
    public const long MaxImagePixels = 1L << 26;

    /// <summary>Decodes <paramref name="encoded"/>; throws <see cref="InvalidDataException"/> with the reason (without the file's name).</summary>
    /// <param name="encoded">The file's bytes.</param>
    /// <param name="components">The components to decode to, chosen from the header.</param>
    public static ImageResult Decode(byte[] encoded, Func<ImageInfo, ColorComponents> components)
    {
        try
        {
            ImageInfo info;
            using (var header = new MemoryStream(encoded, writable: false))
                info = ImageInfo.FromStream(header) ?? throw new InvalidDataException("not an image of a known format (PNG, JPEG, BMP, GIF, TGA, PSD, HDR)");
            if (info.Width <= 0 || info.Height <= 0 || (long)info.Width * info.Height > MaxImagePixels)
                throw new InvalidDataException($"the image claims {info.Width}x{info.Height} pixels, beyond the limit of {MaxImagePixels:N0}");
            if (BmpShortBy(encoded) is { } missing and > 0)
                throw new InvalidDataException($"the BMP file is cut short: its header claims {missing:N0} more bytes of pixels than the file holds");
            return ImageResult.FromMemory(encoded, components(info));
        }
        catch (Exception e) when (e is not InvalidDataException and (InvalidOperationException or IOException or ArgumentException or IndexOutOfRangeException))
        {
            // The decoder's reason can be empty or end in NULs.
            var reason = e.Message.TrimEnd('\0');
            throw new InvalidDataException($"cannot decode the image: {(reason.Length > 0 ? reason : "damaged or cut short")}", e);
        }
    }

    // For an uncompressed BMP (BI_RGB, BI_BITFIELDS), how many bytes of pixels the header claims beyond
    // the file's end; null for other files. Rows are padded to 4 bytes; the height's sign is the row order.
    static long? BmpShortBy(byte[] file)
    {
        if (file.Length < 34 || file[0] != 'B' || file[1] != 'M') return null;
        var dataOffset = BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(10));
        var headerSize = BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(14));
        if (headerSize < 40) return null; // the OS/2 header: 16-bit sizes, rare
        long width = BinaryPrimitives.ReadInt32LittleEndian(file.AsSpan(18));
        long height = Math.Abs((long)BinaryPrimitives.ReadInt32LittleEndian(file.AsSpan(22)));
        var bitsPerPixel = BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan(28));
        var compression = BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(30));
        if (compression is not (0 or 3) || bitsPerPixel == 0) return null;
        var rowBytes = (width * bitsPerPixel + 31) / 32 * 4;
        // Some writers leave out the last row's padding: the pixels are all there.
        var lastRowPadding = rowBytes - (width * bitsPerPixel + 7) / 8;
        return dataOffset + rowBytes * height - lastRowPadding - file.Length;
    }
}

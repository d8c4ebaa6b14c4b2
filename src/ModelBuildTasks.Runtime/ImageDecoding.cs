using System.Buffers.Binary;
using StbImageSharp;

namespace ModelBuildTasks.Runtime;

/// <summary>
/// Image files decoded after their header is checked, one path for the engine's image folders and the
/// shipped runtime's <c>PredictImage</c> (the engine links this file). The decoder trusts headers: a
/// few bytes can claim a size whose allocation takes the process down, and a BMP, JPEG, TGA or PSD cut
/// short decodes without complaint, what is missing read as zeros, to an image the model then classifies
/// (PNG, GIF and HDR decoding fails on a cut file by itself).
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
            if (CutShort(encoded) is { } reason) throw new InvalidDataException(reason);
            return ImageResult.FromMemory(encoded, components(info));
        }
        catch (Exception e) when (e is not InvalidDataException and (InvalidOperationException or IOException or ArgumentException or IndexOutOfRangeException))
        {
            // The decoder's reason can be empty or end in NULs.
            var reason = e.Message.TrimEnd('\0');
            throw new InvalidDataException($"cannot decode the image: {(reason.Length > 0 ? reason : "damaged or cut short")}", e);
        }
    }

    // Why the file is cut short, when its format says how long it is and the file holds less; null otherwise.
    static string? CutShort(byte[] file)
    {
        if (BmpShortBy(file) is { } bmp) return bmp > 0 ? $"the BMP file is cut short: its header claims {bmp:N0} more bytes of pixels than the file holds" : null;
        if (JpegCut(file) is { } jpeg) return jpeg ? "the JPEG file is cut short: it ends without its end-of-image marker (cut off, or written without one; re-save it)" : null;
        if (PsdShortBy(file) is { } psd) return psd > 0 ? $"the PSD file is cut short: its header claims {psd:N0} more bytes than the file holds" : null;
        if (TgaPixelsShort(file) is { } tga) return tga > 0 ? $"the TGA file is cut short: its header claims {tga:N0} more pixels than the file holds" : null;
        return null;
    }

    // For a JPEG, whether it ends before its end-of-image marker (null for other files). Segments are skipped by their
    // lengths and entropy-coded data up to the next marker that is not a restart, so the marker of an embedded
    // (EXIF) thumbnail does not count; a file whose structure is broken otherwise is left to the decoder.
    static bool? JpegCut(byte[] file)
    {
        if (file.Length < 3 || file[0] != 0xFF || file[1] != 0xD8 || file[2] != 0xFF) return null;
        long i = 2;
        while (true)
        {
            while (i < file.Length && file[i] == 0xFF) i++; // fill bytes before a marker
            if (i >= file.Length) return true;
            var marker = file[i++];
            if (marker == 0xD9) return false; // end of image
            if (marker is 0x01 or (>= 0xD0 and <= 0xD7)) continue; // markers without a length
            if (i + 2 > file.Length) return true;
            i += file[i] << 8 | file[i + 1];
            if (i > file.Length) return true;
            if (marker == 0xDA) // start of scan: entropy-coded data, in which 0xFF is followed by 0 or a restart marker
                while (true)
                {
                    if (i + 1 >= file.Length) return true;
                    if (file[i] == 0xFF && file[i + 1] is not (0x00 or 0xFF or (>= 0xD0 and <= 0xD7))) break;
                    i++;
                }
            if (i < file.Length && file[i] != 0xFF) return false;
        }
    }

    // For a PSD (version 1), how many bytes its header and sections claim beyond the file's end; null for other files.
    static long? PsdShortBy(byte[] file)
    {
        if (file.Length < 26 || file[0] != '8' || file[1] != 'B' || file[2] != 'P' || file[3] != 'S' || BinaryPrimitives.ReadUInt16BigEndian(file.AsSpan(4)) != 1) return null;
        long channels = BinaryPrimitives.ReadUInt16BigEndian(file.AsSpan(12));
        long height = BinaryPrimitives.ReadUInt32BigEndian(file.AsSpan(14));
        long width = BinaryPrimitives.ReadUInt32BigEndian(file.AsSpan(18));
        long depth = BinaryPrimitives.ReadUInt16BigEndian(file.AsSpan(22));
        long i = 26;
        for (var section = 0; section < 3; section++) // colour mode data, image resources, layers and masks: each a length and its bytes
        {
            if (i + 4 > file.Length) return i + 4 - file.Length;
            i += 4 + BinaryPrimitives.ReadUInt32BigEndian(file.AsSpan((int)i));
        }
        if (i + 2 > file.Length) return i + 2 - file.Length;
        var compression = BinaryPrimitives.ReadUInt16BigEndian(file.AsSpan((int)i));
        i += 2;
        if (compression == 0) return i + channels * height * ((width * depth + 7) / 8) - file.Length;
        if (compression != 1) return null;
        // PackBits: a table of every row's byte count, then the rows.
        var rows = channels * height;
        if (i + 2 * rows > file.Length) return i + 2 * rows - file.Length;
        long packed = 0;
        for (var r = 0; r < rows; r++) packed += BinaryPrimitives.ReadUInt16BigEndian(file.AsSpan((int)(i + 2 * r)));
        return i + 2 * rows + packed - file.Length;
    }

    // For a TGA, how many pixels its header claims beyond the file's end, uncompressed or run-length encoded; null for
    // other files. TGA has no magic number: it is recognised by its header, as the decoder does, once no format with
    // one matches.
    static long? TgaPixelsShort(byte[] file)
    {
        if (file.Length < 18 || file[1] > 1 || file[2] is not (1 or 2 or 3 or 9 or 10 or 11)) return null;
        if (file.AsSpan(0, 2).SequenceEqual("BM"u8) || file.AsSpan(1, 3).SequenceEqual("PNG"u8) || file.AsSpan(0, 3).SequenceEqual("GIF"u8)
            || file.AsSpan(0, 4).SequenceEqual("8BPS"u8) || file.AsSpan(0, 2).SequenceEqual("#?"u8) || file[0] == 0xFF) return null;
        long width = BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan(12));
        long height = BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan(14));
        var bytesPerPixel = (file[16] + 7) / 8;
        if (width == 0 || height == 0 || bytesPerPixel == 0) return null;
        var colorMap = file[1] == 1 ? BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan(5)) * ((file[7] + 7) / 8) : 0;
        long i = 18 + file[0] + colorMap, pixels = width * height, read = 0;
        if (file[2] < 9) return pixels - Math.Max(0, (file.Length - i) / bytesPerPixel);
        while (read < pixels && i < file.Length) // packets: a header byte, then one pixel repeated or that many pixels
        {
            var count = (file[i] & 0x7F) + 1;
            var bytes = (file[i] & 0x80) != 0 ? bytesPerPixel : count * bytesPerPixel;
            if (i + 1 + bytes > file.Length) break;
            i += 1 + bytes;
            read += count;
        }
        return pixels - read;
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

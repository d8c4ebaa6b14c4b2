using System.Buffers.Binary;

namespace ModelBuildTasks.Runtime;

/// <summary>
/// Image files cut short: for each format whose size the file's own structure gives, whether the file holds all of
/// it. The decoder reads zeros past a file's end for most formats and decodes a cut download or an interrupted copy
/// without complaint, so the model classified an image that is partly black (a cut PNG fails by itself). Part of
/// <see cref="ImageDecoding"/>; the engine links this file.
/// </summary>
internal static class CutShortImage
{
    /// <summary>Why <paramref name="file"/> is cut short, when its format says how long it is and the file holds less; null otherwise.</summary>
    public static string? Reason(byte[] file)
    {
        if (BmpShortBy(file) is { } bmp) return bmp > 0 ? $"the BMP file is cut short: its header claims {bmp:N0} more bytes of pixels than the file holds" : null;
        if (JpegCut(file) is { } jpeg) return jpeg ? "the JPEG file is cut short: it ends without its end-of-image marker (cut off, or written without one; re-save it)" : null;
        if (PsdShortBy(file) is { } psd) return psd > 0 ? $"the PSD file is cut short: its header claims {psd:N0} more bytes than the file holds" : null;
        if (GifCut(file) is { } gif) return gif ? "the GIF file is cut short: it ends inside its image's data" : null;
        if (HdrRowsShort(file) is { } hdr) return hdr > 0 ? $"the HDR file is cut short: it holds {hdr:N0} row{(hdr == 1 ? "" : "s")} of pixels fewer than its header claims" : null;
        if (TgaPixelsShort(file) is { } tga) return tga > 0 ? $"the TGA file is cut short: its header claims {tga:N0} more pixels than the file holds" : null;
        return null;
    }

    // For a GIF, whether it ends before the data of its first image (the one decoded) is complete; null for other files.
    // Blocks are skipped by their lengths: extensions (a label, then sub-blocks) before the image, then the image's
    // descriptor, local palette, LZW code size and data sub-blocks, which a block of length 0 ends. The decoder takes
    // the zeros past a cut for that end and leaves the rest of the image background. The trailer after it may be missing.
    static bool? GifCut(byte[] file)
    {
        if (file.Length < 6 || !(file.AsSpan(0, 6).SequenceEqual("GIF87a"u8) || file.AsSpan(0, 6).SequenceEqual("GIF89a"u8))) return null;
        if (file.Length < 13) return true;
        long i = 13 + Palette(file[10]);
        while (true)
        {
            if (i >= file.Length) return true;
            switch (file[i])
            {
                case 0x21: // an extension
                    if (SubBlocksEnd(file, i + 2) is not { } next) return true;
                    i = next;
                    break;
                case 0x2C: // the image
                    if (i + 10 > file.Length) return true;
                    return SubBlocksEnd(file, i + 10 + Palette(file[i + 9]) + 1) is null;
                default: // the trailer, or a block the decoder refuses: no image data to miss
                    return false;
            }
        }

        // A global or local palette's bytes, from the packed field that declares it.
        static long Palette(byte packed) => (packed & 0x80) != 0 ? 3L << ((packed & 7) + 1) : 0;

        // Where the sub-blocks starting at `start` end (after their block of length 0); null when the file ends first.
        static long? SubBlocksEnd(byte[] file, long start)
        {
            for (var i = start; i < file.Length; i += 1 + file[i])
                if (file[i] == 0) return i + 1;
            return null;
        }
    }

    // For a Radiance HDR, how many rows of pixels the file lacks; null for other files and for a layout the decoder
    // refuses. Rows are flat (four bytes a pixel) or, when the first row starts with 2, 2 and a width below 32,768, each
    // row is 2, 2, its width in two bytes, then its R, G, B and E values in runs: a count above 128 repeats the next
    // byte count - 128 times, another count is followed by that many bytes. The decoder reads zeros past a cut: black
    // pixels when flat, and when run-length encoded, a cut between rows restarts it reading flat pixels of zeros.
    static long? HdrRowsShort(byte[] file)
    {
        var span = file.AsSpan();
        if (!span.StartsWith("#?RADIANCE\n"u8) && !span.StartsWith("#?RGBE\n"u8)) return null;
        var blank = span.IndexOf("\n\n"u8); // the header's lines end with an empty one, then comes the size
        if (blank < 0) return null;
        var sizeLine = span[(blank + 2)..];
        var end = sizeLine.IndexOf((byte)'\n');
        if (end < 0) return null;
        var size = System.Text.Encoding.ASCII.GetString(sizeLine[..end]).Split(' ');
        if (size is not ["-Y", var h, "+X", var w] || !int.TryParse(h, out var height) || !int.TryParse(w, out var width) || height <= 0 || width <= 0) return null;
        long i = blank + 2 + end + 1;
        var runLength = width is >= 8 and < 32768 && i + 3 <= file.Length && file[i] == 2 && file[i + 1] == 2 && (file[i + 2] & 0x80) == 0;
        if (!runLength) return height - Math.Min(height, (file.Length - i) / (4L * width));
        for (var row = 0; row < height; row++)
        {
            if (i + 4 > file.Length) return height - row;
            if (file[i] != 2 || file[i + 1] != 2 || (file[i + 2] & 0x80) != 0) return null;
            i += 4;
            for (var channel = 0; channel < 4; channel++)
                for (var x = 0; x < width;)
                {
                    if (i >= file.Length) return height - row;
                    var count = file[i] > 128 ? file[i] - 128 : file[i];
                    if (count == 0) return null; // a run the decoder refuses
                    i += 1 + (file[i] > 128 ? 1 : count);
                    x += count;
                }
            if (i > file.Length) return height - row;
        }
        return 0;
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

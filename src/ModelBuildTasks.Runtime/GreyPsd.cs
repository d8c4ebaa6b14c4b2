using System.Buffers.Binary;
using StbImageSharp;

namespace ModelBuildTasks.Runtime;

/// <summary>
/// Grey Photoshop files (colour mode 1), which the decoder refuses: it reads RGB ones only. A grey file is rewritten
/// as the RGB file of the same image (its grey plane as red, green and blue, its first extra channel still the
/// alpha), so the decoder's own PSD reading (raw or PackBits, 8 or 16 bits, alpha) applies to both, and decoding
/// it to grey gives back the grey values exactly (the luma of equal red, green and blue). The engine links this file.
/// </summary>
internal static class GreyPsd
{
    const int HeaderBytes = 26;

    /// <summary>Whether <paramref name="file"/> is a grey PSD (version 1, colour mode 1, at least one channel).</summary>
    public static bool Is(ReadOnlySpan<byte> file) =>
        file.Length >= HeaderBytes && file[..4].SequenceEqual("8BPS"u8) && BinaryPrimitives.ReadUInt16BigEndian(file[4..]) == 1
        && BinaryPrimitives.ReadUInt16BigEndian(file[12..]) >= 1 && BinaryPrimitives.ReadUInt16BigEndian(file[24..]) == 1;

    /// <summary>What the header of a grey PSD says, as the decoder reports it for other files (alpha: a second channel).</summary>
    public static ImageInfo Info(ReadOnlySpan<byte> file) => new()
    {
        Width = (int)Math.Min(BinaryPrimitives.ReadUInt32BigEndian(file[18..]), int.MaxValue),
        Height = (int)Math.Min(BinaryPrimitives.ReadUInt32BigEndian(file[14..]), int.MaxValue),
        ColorComponents = BinaryPrimitives.ReadUInt16BigEndian(file[12..]) >= 2 ? ColorComponents.GreyAlpha : ColorComponents.Grey,
        BitsPerChannel = BinaryPrimitives.ReadUInt16BigEndian(file[22..]),
    };

    /// <summary>
    /// The RGB PSD of a grey one's image. The file must hold everything its header claims (checked before, as for
    /// any PSD): only the planes are rearranged here. Compressions other than raw and PackBits are left as they are,
    /// for the decoder to refuse.
    /// </summary>
    public static byte[] AsRgb(byte[] file)
    {
        var channels = BinaryPrimitives.ReadUInt16BigEndian(file.AsSpan(12));
        var height = (int)BinaryPrimitives.ReadUInt32BigEndian(file.AsSpan(14));
        var width = (int)BinaryPrimitives.ReadUInt32BigEndian(file.AsSpan(18));
        var depth = BinaryPrimitives.ReadUInt16BigEndian(file.AsSpan(22));
        var i = HeaderBytes;
        for (var section = 0; section < 3; section++) // colour mode data, image resources, layers and masks
            i += 4 + (int)BinaryPrimitives.ReadUInt32BigEndian(file.AsSpan(i));
        var compression = BinaryPrimitives.ReadUInt16BigEndian(file.AsSpan(i));
        var data = i + 2;
        var kept = Math.Min((int)channels, 2); // grey, alpha: further channels are not part of the image

        var header = file.AsSpan(0, data).ToArray(); // the sections and the compression stay as they are
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(12), (ushort)(kept + 2));
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(24), 3); // RGB
        var output = new List<byte>(file.Length * 3);
        output.AddRange(header);
        if (compression == 0)
        {
            // Planes one after the other, each row (width x depth bits) in whole bytes.
            var plane = height * ((width * depth + 7) / 8);
            Planes(file.AsSpan(data, plane), file.AsSpan(data + plane, kept > 1 ? plane : 0));
        }
        else if (compression == 1)
        {
            // PackBits: every row's byte count (channel by channel), then the rows in the same order.
            var counts = file.AsSpan(data, 2 * channels * height);
            var rows = data + counts.Length;
            var greyBytes = 0;
            for (var r = 0; r < height; r++) greyBytes += BinaryPrimitives.ReadUInt16BigEndian(counts[(2 * r)..]);
            var alphaBytes = 0;
            if (kept > 1) for (var r = height; r < 2 * height; r++) alphaBytes += BinaryPrimitives.ReadUInt16BigEndian(counts[(2 * r)..]);
            Planes(counts[..(2 * height)], counts.Slice(2 * height, kept > 1 ? 2 * height : 0));
            Planes(file.AsSpan(rows, greyBytes), file.AsSpan(rows + greyBytes, alphaBytes));
        }
        else output.AddRange(file.AsSpan(data));
        return output.ToArray();

        // Grey as red, green and blue, then the alpha (empty when there is none).
        void Planes(ReadOnlySpan<byte> grey, ReadOnlySpan<byte> alpha)
        {
            for (var c = 0; c < 3; c++) output.AddRange(grey);
            output.AddRange(alpha);
        }
    }
}

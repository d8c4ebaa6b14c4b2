using System.Buffers.Binary;

namespace ModelBuildTasks.Tests;

/// <summary>Minimal BMP encoder (24-bit, bottom-up rows padded to 4 bytes), so tests can make and cut image files byte for byte.</summary>
public static class Bmp
{
    /// <summary>An RGB image from H x W x 3 bytes; <paramref name="claimedSize"/> makes the header claim another width and height.</summary>
    public static byte[] Rgb(byte[] hwc, int width, int height, int? claimedSize = null)
    {
        var row = (width * 3 + 3) / 4 * 4;
        var file = new byte[54 + row * height];
        file[0] = (byte)'B';
        file[1] = (byte)'M';
        BinaryPrimitives.WriteInt32LittleEndian(file.AsSpan(2), file.Length);
        BinaryPrimitives.WriteInt32LittleEndian(file.AsSpan(10), 54);
        BinaryPrimitives.WriteInt32LittleEndian(file.AsSpan(14), 40);
        BinaryPrimitives.WriteInt32LittleEndian(file.AsSpan(18), claimedSize ?? width);
        BinaryPrimitives.WriteInt32LittleEndian(file.AsSpan(22), claimedSize ?? height);
        BinaryPrimitives.WriteInt16LittleEndian(file.AsSpan(26), 1);
        BinaryPrimitives.WriteInt16LittleEndian(file.AsSpan(28), 24);
        for (var y = 0; y < height; y++)
            for (var x = 0; x < width; x++)
                for (var c = 0; c < 3; c++) // stored bottom row first, as BGR
                    file[54 + (height - 1 - y) * row + x * 3 + 2 - c] = hwc[(y * width + x) * 3 + c];
        return file;
    }
}

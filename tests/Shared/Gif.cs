namespace ModelBuildTasks.Tests;

/// <summary>
/// Minimal GIF encoder (one frame, a 256-level grey palette), so tests can make and cut GIF files byte for byte.
/// The LZW stream sends every pixel as a literal code and a clear code before the table would widen the codes
/// past 9 bits: larger than a real encoder's output, and valid.
/// </summary>
public static class Gif
{
    /// <summary>A grey image from H x W bytes.</summary>
    public static byte[] Grey(byte[] pixels, int width, int height)
    {
        using var file = new MemoryStream();
        file.Write("GIF89a"u8);
        file.Write([(byte)width, (byte)(width >> 8), (byte)height, (byte)(height >> 8), 0xF7, 0, 0]); // global palette of 2^(7+1) colours
        for (var i = 0; i < 256; i++) file.Write([(byte)i, (byte)i, (byte)i]);
        file.Write([0x2C, 0, 0, 0, 0, (byte)width, (byte)(width >> 8), (byte)height, (byte)(height >> 8), 0]); // image descriptor
        file.WriteByte(8); // LZW minimum code size: codes are 9 bits wide, 256 is clear, 257 end of information
        var codes = new List<int> { 256 };
        for (var i = 0; i < pixels.Length; i++)
        {
            // Each code after the first adds a table entry from 258 on; at 512 the codes would widen to 10 bits.
            if (i > 0 && i % 250 == 0) codes.Add(256);
            codes.Add(pixels[i]);
        }
        codes.Add(257);
        var data = new List<byte>();
        int bits = 0, used = 0;
        foreach (var code in codes) // least significant bit first
        {
            bits |= code << used;
            for (used += 9; used >= 8; used -= 8, bits >>= 8) data.Add((byte)bits);
        }
        if (used > 0) data.Add((byte)bits);
        foreach (var block in data.Chunk(255))
        {
            file.WriteByte((byte)block.Length);
            file.Write(block);
        }
        file.WriteByte(0); // end of the image's data
        file.WriteByte(0x3B); // trailer
        return file.ToArray();
    }
}

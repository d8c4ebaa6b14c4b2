namespace ModelBuildTasks.Tests;

/// <summary>
/// Minimal Radiance HDR encoder (grey pixels as RGBE), so tests can make and cut HDR files byte for byte: flat (four
/// bytes a pixel) or run-length encoded (each row as 2, 2, its width, then each of R, G, B and E in literal runs).
/// </summary>
public static class Hdr
{
    /// <summary>A grey image from H x W values in (0, 1].</summary>
    public static byte[] Grey(float[] pixels, int width, int height, bool runLength)
    {
        using var file = new MemoryStream();
        file.Write(System.Text.Encoding.ASCII.GetBytes($"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y {height} +X {width}\n"));
        var rgbe = pixels.Select(Rgbe).ToArray();
        for (var y = 0; y < height; y++)
        {
            var row = rgbe.AsSpan(y * width, width);
            if (!runLength)
            {
                foreach (var (m, e) in row) file.Write([m, m, m, e]);
                continue;
            }
            file.Write([2, 2, (byte)(width >> 8), (byte)width]);
            for (var c = 0; c < 4; c++)
                for (var x = 0; x < width; x += 128) // a literal run holds at most 128 bytes
                {
                    var count = Math.Min(128, width - x);
                    file.WriteByte((byte)count);
                    for (var k = x; k < x + count; k++) file.WriteByte(c < 3 ? row[k].Mantissa : row[k].Exponent);
                }
        }
        return file.ToArray();
    }

    // v = mantissa / 256 * 2^(exponent - 128), the mantissa in [128, 256) (so a flat pixel never starts with 2, 2).
    static (byte Mantissa, byte Exponent) Rgbe(float v)
    {
        var exponent = (int)Math.Floor(Math.Log2(v)) + 1;
        var mantissa = (int)Math.Min(255, Math.Round(v / Math.Pow(2, exponent) * 256));
        return ((byte)mantissa, (byte)(exponent + 128));
    }
}

namespace ModelBuildTasks.Tests;

/// <summary>Minimal PNG encoder (8-bit grey or RGB, no filtering), so tests can make image files byte for byte.</summary>
public static class Png
{
    public static byte[] Grey(byte[] pixels, int width, int height, int? claimedSize = null) => Encode(pixels, width, height, colorType: 0, channels: 1, claimedSize);
    public static byte[] Rgb(byte[] pixels, int width, int height) => Encode(pixels, width, height, colorType: 2, channels: 3, null);

    // claimedSize: a header that lies about the size (width and height), with a valid checksum.
    static byte[] Encode(byte[] pixels, int width, int height, byte colorType, int channels, int? claimedSize)
    {
        using var output = new MemoryStream();
        output.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        var header = new byte[13];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(header, claimedSize ?? width);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), claimedSize ?? height);
        header[8] = 8;
        header[9] = colorType;
        Chunk(output, "IHDR", header);
        using var raw = new MemoryStream();
        using (var z = new System.IO.Compression.ZLibStream(raw, System.IO.Compression.CompressionLevel.Optimal, leaveOpen: true))
            for (var y = 0; y < height; y++)
            {
                z.WriteByte(0);
                z.Write(pixels, y * width * channels, width * channels);
            }
        Chunk(output, "IDAT", raw.ToArray());
        Chunk(output, "IEND", []);
        return output.ToArray();
    }

    static void Chunk(Stream output, string type, byte[] data)
    {
        var length = new byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(length, data.Length);
        output.Write(length);
        var body = System.Text.Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
        output.Write(body);
        var crc = new byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(crc, Crc(body));
        output.Write(crc);
    }

    static uint Crc(byte[] data)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in data)
        {
            crc ^= b;
            for (var k = 0; k < 8; k++) crc = (crc & 1) != 0 ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
        }
        return ~crc;
    }
}

using System.Buffers.Binary;

namespace ModelBuildTasks.Tests;

/// <summary>
/// Minimal Photoshop (PSD version 1, 8 bits a channel) encoder for the merged image, so tests can make and cut PSD
/// files byte for byte: a 26-byte header, three empty sections (colour mode data, image resources, layers and
/// masks), then the compression and every channel's plane, raw or PackBits (a table of each row's byte count first).
/// </summary>
public static class Psd
{
    /// <summary>An image of <paramref name="planes"/> (each H x W bytes) in colour mode <paramref name="mode"/> (1 grey, 3 RGB).</summary>
    public static byte[] Encode(byte[][] planes, int width, int height, int mode, bool packBits = false)
    {
        using var file = new MemoryStream();
        var header = new byte[26];
        "8BPS"u8.CopyTo(header);
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(4), 1); // version
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(12), (ushort)planes.Length);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(14), (uint)height);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(18), (uint)width);
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(22), 8);
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(24), (ushort)mode);
        file.Write(header);
        file.Write(new byte[12]); // three sections of length 0
        file.Write([0, (byte)(packBits ? 1 : 0)]);
        if (!packBits)
        {
            foreach (var plane in planes) file.Write(plane);
            return file.ToArray();
        }
        // Each row as literal runs of at most 128 bytes (a header byte of count - 1, then the bytes).
        var rows = planes.SelectMany(p => p.Chunk(width)).Select(row => row.Chunk(128).SelectMany(run => (byte[])[(byte)(run.Length - 1), .. run]).ToArray()).ToList();
        foreach (var row in rows) file.Write([(byte)(row.Length >> 8), (byte)row.Length]);
        foreach (var row in rows) file.Write(row);
        return file.ToArray();
    }
}

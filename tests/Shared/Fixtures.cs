using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace ModelBuildTasks.Tests;
using ModelBuildTasks.Tests;

/// <summary>Writers for dataset files the tests create: PNG images and NumPy .npz archives.</summary>
static class Fixtures
{
    /// <summary>
    /// An image folder under <paramref name="root"/>: per (label, folder), the first <paramref name="perClass"/> images of
    /// that label from the Fashion-MNIST test set, as grey PNGs named by their index.
    /// </summary>
    public static void WriteClassFolders(string root, (int Label, string Folder)[] classes, int perClass)
    {
        var raw = ModelBuildTasks.Data.DatasetLoader.LoadRaw(TestPaths.FashionTest, null);
        foreach (var (label, folder) in classes)
        {
            Directory.CreateDirectory(Path.Combine(root, folder));
            foreach (var i in Enumerable.Range(0, raw.Count).Where(i => raw.Labels![i] == label).Take(perClass))
                WritePng(Path.Combine(root, folder, $"{i}.png"), 28, 28, 1, raw.Image(i).ToArray().Select(v => (byte)v).ToArray());
        }
    }

    /// <summary>An 8-bit PNG, grey (channels 1) or RGB (channels 3), from H x W x C bytes.</summary>
    public static void WritePng(string path, int width, int height, int channels, byte[] hwc)
    {
        using var file = File.Create(path);
        file.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = 8;
        header[9] = (byte)(channels == 1 ? 0 : 2);
        Chunk(file, "IHDR", header);
        var raw = new MemoryStream();
        for (var y = 0; y < height; y++)
        {
            raw.WriteByte(0); // filter: none
            raw.Write(hwc, y * width * channels, width * channels);
        }
        var compressed = new MemoryStream();
        using (var z = new ZLibStream(compressed, CompressionLevel.Fastest, leaveOpen: true)) raw.WriteTo(z);
        Chunk(file, "IDAT", compressed.ToArray());
        Chunk(file, "IEND", []);
    }

    static void Chunk(Stream s, string type, byte[] data)
    {
        var length = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(length, data.Length);
        s.Write(length);
        var body = Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
        s.Write(body);
        var crc = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, Crc32(body));
        s.Write(crc);
    }

    static uint Crc32(byte[] data)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in data)
        {
            crc ^= b;
            for (var k = 0; k < 8; k++) crc = (crc & 1) != 0 ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
        }
        return ~crc;
    }

    /// <summary>A .npz with the given arrays; each is (descr, shape, little-endian bytes).</summary>
    public static void WriteNpz(string path, params (string Name, string Descr, int[] Shape, byte[] Data)[] arrays)
    {
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        foreach (var (name, descr, shape, data) in arrays)
        {
            using var entry = zip.CreateEntry(name + ".npy").Open();
            var dict = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': ({string.Join(", ", shape)}{(shape.Length == 1 ? "," : "")}), }}";
            var padding = 64 - (10 + dict.Length + 1) % 64;
            var header = dict + new string(' ', padding) + "\n";
            entry.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0]);
            var length = new byte[2];
            BinaryPrimitives.WriteUInt16LittleEndian(length, (ushort)header.Length);
            entry.Write(length);
            entry.Write(Encoding.ASCII.GetBytes(header));
            entry.Write(data);
        }
    }

    public static byte[] Bytes(float[] values) => System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
    public static byte[] Bytes(long[] values) => System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
}

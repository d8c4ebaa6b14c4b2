using System.Buffers.Binary;
using System.IO.Compression;

namespace FashionApp;

/// <summary>Reads Fashion-MNIST's IDX files (gzip) into preprocessed images: floats in [0, 1].</summary>
static class FashionMnist
{
    public static (float[] Images, int[] Labels, int Count) Load(string imagesPath, string labelsPath)
    {
        var images = Read(imagesPath);
        var labels = Read(labelsPath);
        var count = BinaryPrimitives.ReadInt32BigEndian(images.AsSpan(4));
        var pixels = images.AsSpan(16).ToArray().Select(b => b / 255f).ToArray();
        return (pixels, labels.AsSpan(8).ToArray().Select(b => (int)b).ToArray(), count);
    }

    static byte[] Read(string path)
    {
        using var gzip = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
        using var memory = new MemoryStream();
        gzip.CopyTo(memory);
        return memory.ToArray();
    }
}

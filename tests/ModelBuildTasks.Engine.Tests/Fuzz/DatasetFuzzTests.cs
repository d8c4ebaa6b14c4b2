using System.IO.Compression;
using ModelBuildTasks.Data;
using Xunit.Abstractions;

namespace ModelBuildTasks.Engine.Tests.Fuzz;

/// <summary>Mutated IDX (plain and gzip) and .npz datasets load or fail with a coded error; bombs fail within the bounds.</summary>
[Collection(nameof(FuzzCollection))]
public sealed class DatasetFuzzTests(ITestOutputHelper output) : IDisposable
{
    readonly TestPaths.TempFolder temp = new();

    static byte[] Idx(int[] dims, byte[] values)
    {
        var header = new byte[4 + 4 * dims.Length];
        header[2] = 8;
        header[3] = (byte)dims.Length;
        for (var i = 0; i < dims.Length; i++) System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4 + 4 * i), dims[i]);
        return [.. header, .. values];
    }

    static byte[] Gzip(byte[] data, long zeros = 0)
    {
        var memory = new MemoryStream();
        using (var gzip = new GZipStream(memory, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(data);
            var block = new byte[1 << 20];
            for (long left = zeros; left > 0; left -= block.Length) gzip.Write(block, 0, (int)Math.Min(left, block.Length));
        }
        return memory.ToArray();
    }

    // Bombs are made once per size: inflating them is the case, compressing them is not.
    static readonly Dictionary<int, byte[]> Bombs = new();

    static byte[] Bomb(int megabytes)
    {
        lock (Bombs)
        {
            if (!Bombs.TryGetValue(megabytes, out var bomb)) Bombs[megabytes] = bomb = Gzip(Idx([16, 8, 8], new byte[1024]), (long)megabytes << 20);
            return bomb;
        }
    }

    [Fact]
    public void MutatedIdxFiles_LoadOrFailWithACode()
    {
        var random = new Random(3);
        var pixels = new byte[16 * 8 * 8];
        random.NextBytes(pixels);
        var images = Idx([16, 8, 8], pixels);
        var labels = Idx([16], Enumerable.Range(0, 16).Select(i => (byte)(i % 10)).ToArray());
        FuzzHarness.Run(output, "idx", m =>
        {
            var gzip = m.Random.Next(2) == 0;
            var imageBytes = m.Random.Next(10) == 0 ? Bomb(1 << m.Random.Next(0, 6)) : Pick(m, images, gzip);
            var labelBytes = m.Random.Next(4) == 0 ? Pick(m, labels, gzip) : labels;
            var imagesPath = Path.Combine(temp.Path, gzip ? "f-images-idx3-ubyte.gz" : "f-images-idx3-ubyte");
            File.Delete(Path.Combine(temp.Path, "f-labels-idx1-ubyte.gz"));
            File.Delete(Path.Combine(temp.Path, "f-labels-idx1-ubyte"));
            File.WriteAllBytes(imagesPath, imageBytes);
            File.WriteAllBytes(Path.Combine(temp.Path, gzip ? "f-labels-idx1-ubyte.gz" : "f-labels-idx1-ubyte"), labelBytes);
            try { return DatasetLoader.Load(imagesPath).Count; }
            finally { File.Delete(imagesPath); }
        }, typeof(ModelBuildException));
    }

    static byte[] Pick(Mutator m, byte[] plain, bool gzip)
    {
        var mutated = m.Mutate(plain);
        if (!gzip) return mutated;
        return m.Random.Next(3) == 0 ? m.Mutate(Gzip(plain)) : Gzip(mutated);
    }

    static readonly string[] Descrs = ["|u1", "<f4", "<f8", "<i4", "<i8", "|b1", ">f4", "<U8", "|i1", "<f2"];

    [Fact]
    public void MutatedNpzFiles_LoadOrFailWithACode()
    {
        FuzzHarness.Run(output, "npz", m =>
        {
            var path = Path.Combine(temp.Path, "f.npz");
            File.Delete(path);
            var rank = m.Random.Next(1, 6);
            var shape = Enumerable.Range(0, rank).Select(_ => m.Random.Next(8) == 0 ? (int)(m.InterestingValue() & 0x7FFFFFFF) : m.Random.Next(1, 6)).ToArray();
            var descr = m.Random.Next(2) == 0 ? "|u1" : Descrs[m.Random.Next(Descrs.Length)];
            var size = descr switch { "|u1" or "|b1" or "|i1" => 1, "<f4" or "<i4" or ">f4" => 4, "<f2" => 2, _ => 8 };
            var exact = shape.Aggregate(1L, (a, b) => Math.Min(a * b, 1 << 20)) * size;
            var data = new byte[Math.Min(8192, m.Random.Next(0, 3) != 0 ? exact : m.Random.Next(0, 600))];
            m.Random.NextBytes(data);
            var labels = Enumerable.Range(0, m.Random.Next(4) == 0 ? m.Random.Next(0, 8) : Math.Max(shape[0], 0) % 64).Select(_ => (long)m.Random.Next(m.Random.Next(8) == 0 ? -1 : 0, 12)).ToArray();
            Fixtures.WriteNpz(path, ("x", descr, shape, data), ("y", "<i8", [labels.Length], Fixtures.Bytes(labels)));
            if (m.Random.Next(3) == 0) File.WriteAllBytes(path, m.Mutate(File.ReadAllBytes(path)));
            return DatasetLoader.Load(path).Count;
        }, typeof(ModelBuildException));
    }

    public void Dispose() => temp.Dispose();
}

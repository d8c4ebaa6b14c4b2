using System.Buffers.Binary;
using System.IO.Compression;
using ModelBuildTasks.Data;

namespace ModelBuildTasks.Engine.Tests;

/// <summary>Defects 4, 5 and 8 of issue #12 for datasets: bombs, overflowing shapes, non-finite pixels and labels out of range.</summary>
public class DatasetLimitTests
{
    static byte[] IdxHeader(params int[] dims)
    {
        var header = new byte[4 + 4 * dims.Length];
        header[2] = 8;
        header[3] = (byte)dims.Length;
        for (var i = 0; i < dims.Length; i++) BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4 + 4 * i), dims[i]);
        return header;
    }

    [Fact]
    public void AGzipBomb_FailsAtItsDeclaredSize_WithoutInflatingEverything()
    {
        using var temp = new TestPaths.TempFolder();
        var path = temp.File("bomb-images-idx3-ubyte.gz");
        using (var gzip = new GZipStream(File.Create(path), CompressionLevel.SmallestSize))
        {
            gzip.Write(IdxHeader(10, 28, 28)); // declares 7,840 bytes...
            var zeros = new byte[1 << 20];
            for (var i = 0; i < 512; i++) gzip.Write(zeros); // ...and inflates to 512 MiB
        }
        Assert.True(new FileInfo(path).Length < 1 << 20);
        var before = GC.GetAllocatedBytesForCurrentThread();
        var error = Assert.Throws<ModelBuildException>(() => DatasetLoader.Load(path));
        Assert.Equal(ErrorCodes.InvalidDataset, error.Code);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 64L << 20, "the bomb was inflated");
    }

    [Fact]
    public void AnIdxHeaderBeyondTheValueLimit_FailsBeforeAllocating()
    {
        using var temp = new TestPaths.TempFolder();
        var path = temp.File("big-images-idx3-ubyte");
        File.WriteAllBytes(path, [.. IdxHeader(60000, 30000, 30000), 1, 2, 3]);
        var before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Equal(ErrorCodes.InvalidDataset, Assert.Throws<ModelBuildException>(() => DatasetLoader.Load(path)).Code);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 16L << 20);
    }

    [Fact]
    public void AnNpzShapeWhoseProductOverflows_IsACodedError()
    {
        using var temp = new TestPaths.TempFolder();
        var path = temp.File("overflow.npz");
        // 2^21 * 2^21 * 2^21 * 2^21 wraps to 0 in 64 bits: 0 values, so an empty data block "matches".
        Fixtures.WriteNpz(path, ("x", "|u1", [1 << 21, 1 << 21, 1 << 21, 1 << 21], []));
        var error = Assert.Throws<ModelBuildException>(() => DatasetLoader.Load(path));
        Assert.Equal(ErrorCodes.InvalidDataset, error.Code);
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    public void NonFinitePixelsInAnNpz_AreRejected(float bad)
    {
        using var temp = new TestPaths.TempFolder();
        var path = temp.File("nan.npz");
        var pixels = new float[2 * 4 * 4];
        pixels[5] = bad;
        Fixtures.WriteNpz(path, ("x", "<f4", [2, 4, 4], Fixtures.Bytes(pixels)), ("y", "<i8", [2], Fixtures.Bytes(new long[] { 0, 1 })));
        var error = Assert.Throws<ModelBuildException>(() => DatasetLoader.Load(path));
        Assert.Equal(ErrorCodes.InvalidDataset, error.Code);
        Assert.Contains("non-finite", error.Message);
    }

    [Fact]
    public void LabelsBeyondTheModelsClasses_AreRejected_ByCompressionAndByTheCheck()
    {
        using var temp = new TestPaths.TempFolder();
        var images = temp.File("val-images-idx3-ubyte");
        var count = 20;
        IdxFormat.Write(images, [count, 28, 28], new byte[count * 784]);
        IdxFormat.Write(temp.File("val-labels-idx1-ubyte"), [count], Enumerable.Repeat((byte)255, count).ToArray());
        var data = DatasetLoader.Load(images);
        var model = TestModels.Plain();
        Assert.Equal(10, LabelRange.ClassCount(model));
        var error = Assert.Throws<ModelBuildException>(() => LabelRange.Check(data, LabelRange.ClassCount(model)));
        Assert.Equal(ErrorCodes.LabelOutOfRange, error.Code);
        Assert.Contains("label 255", error.Message);
        Assert.Equal(temp.File("val-labels-idx1-ubyte"), error.File); // the file to fix is the labels file

        ModelBuildTasks.Graph.ModelFile.Save(model, temp.File("m.onnx"));
        var compression = Assert.Throws<ModelBuildException>(() =>
            ModelBuildTasks.Compression.CompressionInputs.Load(temp.File("m.onnx"), images, null, new ModelBuildTasks.Compression.CompressionSettings()));
        Assert.Equal(ErrorCodes.LabelOutOfRange, compression.Code);
    }

    [Fact]
    public void ABmpCutShort_IsAnUndecodableImage_NotOneWithBlackRows()
    {
        using var temp = new TestPaths.TempFolder();
        Directory.CreateDirectory(temp.File("a"));
        var bmp = Bmp.Rgb(new byte[28 * 28 * 3], 28, 28);
        File.WriteAllBytes(temp.File("a/whole.bmp"), bmp);
        Assert.Equal(1, DatasetLoader.Load(temp.Path).Count);
        File.WriteAllBytes(temp.File("a/cut.bmp"), bmp[..(bmp.Length - 100)]);
        var e = Assert.Throws<ModelBuildException>(() => DatasetLoader.Load(temp.Path));
        Assert.Equal(ErrorCodes.InvalidDataset, e.Code);
        Assert.EndsWith("cut.bmp", e.File);
        Assert.Contains("cut short: its header claims 100 more bytes", e.Message);
    }

    [Fact]
    public void AnImageClaimingAHugeSize_IsRejectedFromItsHeader()
    {
        using var temp = new TestPaths.TempFolder();
        Directory.CreateDirectory(temp.File("a"));
        var png = temp.File("a/big.png");
        Fixtures.WritePng(png, 2, 2, 1, new byte[4]);
        var bytes = File.ReadAllBytes(png);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(16), 100_000); // IHDR width and height (the decoder trusts them)
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(20), 100_000);
        File.WriteAllBytes(png, bytes);
        var before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Equal(ErrorCodes.InvalidDataset, Assert.Throws<ModelBuildException>(() => DatasetLoader.Load(temp.Path)).Code);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 64L << 20);
    }
}

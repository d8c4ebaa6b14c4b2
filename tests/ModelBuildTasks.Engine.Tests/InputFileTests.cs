using System.Diagnostics;
using Google.Protobuf;
using ModelBuildTasks.Graph;
using ModelBuildTasks.Onnx;
using ModelBuildTasks.Onnx.Proto;

namespace ModelBuildTasks.Engine.Tests;

/// <summary>Defect 3 of issue #12: external data must be a regular file inside the model's folder, symlinks resolved, and a FIFO must never hang a reader.</summary>
public class InputFileTests
{
    // A model whose first initializer lives in an external file named <paramref name="location"/>.
    static void SaveWithExternalData(string folder, string location)
    {
        var proto = OnnxExport.ToProto(TestModels.Plain());
        var tensor = proto.Graph.Initializer.First(t => t.RawData.Length > 0);
        tensor.DataLocation = TensorProto.Types.DataLocation.External;
        tensor.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = location });
        tensor.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = "16" });
        tensor.RawData = ByteString.Empty;
        File.WriteAllBytes(Path.Combine(folder, "m.onnx"), proto.ToByteArray());
    }

    static void MakeFifo(string path)
    {
        using var mkfifo = Process.Start("mkfifo", [path]);
        mkfifo.WaitForExit();
        Assert.Equal(0, mkfifo.ExitCode);
    }

    [Fact]
    public void ASymlinkToAFileOutsideTheFolder_IsRefused()
    {
        using var temp = new TestPaths.TempFolder();
        File.CreateSymbolicLink(temp.File("x.bin"), "/etc/passwd");
        SaveWithExternalData(temp.Path, "x.bin");
        var error = Assert.Throws<ModelBuildException>(() => ModelFile.Load(temp.File("m.onnx")));
        Assert.Equal(ErrorCodes.InvalidExternalData, error.Code);
        Assert.Contains("outside", error.Message);
    }

    [Fact]
    public void ASymlinkedFolderPointingOutside_IsRefused_AndOneStayingInside_IsAllowed()
    {
        using var temp = new TestPaths.TempFolder();
        using var outside = new TestPaths.TempFolder();
        File.WriteAllBytes(outside.File("w.bin"), new byte[64]);
        Directory.CreateSymbolicLink(temp.File("data"), outside.Path);
        SaveWithExternalData(temp.Path, "data/w.bin");
        Assert.Equal(ErrorCodes.InvalidExternalData, Assert.Throws<ModelBuildException>(() => ModelFile.Load(temp.File("m.onnx"))).Code);

        using var inside = new TestPaths.TempFolder();
        Directory.CreateDirectory(inside.File("real"));
        File.WriteAllBytes(inside.File("real/w.bin"), new byte[64]);
        Directory.CreateSymbolicLink(inside.File("data"), inside.File("real"));
        SaveWithExternalData(inside.Path, "data/w.bin");
        Assert.NotNull(OnnxModelFile.Load(inside.File("m.onnx")));
    }

    [Fact]
    public void AFifoAsExternalData_IsAnErrorAtOnce_NotAHang()
    {
        using var temp = new TestPaths.TempFolder();
        MakeFifo(temp.File("x.bin"));
        SaveWithExternalData(temp.Path, "x.bin");
        var load = Task.Run(() => Assert.Throws<ModelBuildException>(() => ModelFile.Load(temp.File("m.onnx"))));
        Assert.True(load.Wait(TimeSpan.FromSeconds(20)), "loading a model whose external data is a FIFO hung");
        Assert.Equal(ErrorCodes.InvalidExternalData, load.Result.Code);
        Assert.Contains("regular file", load.Result.Message);
    }

    [Fact]
    public void AFifoAsModelOrDataset_IsAnErrorAtOnce_NotAHang()
    {
        using var temp = new TestPaths.TempFolder();
        MakeFifo(temp.File("m.onnx"));
        MakeFifo(temp.File("images-idx3-ubyte"));
        var model = Task.Run(() => Assert.Throws<ModelBuildException>(() => ModelFile.Load(temp.File("m.onnx"))));
        var data = Task.Run(() => Assert.Throws<ModelBuildException>(() => ModelBuildTasks.Data.DatasetLoader.Load(temp.File("images-idx3-ubyte"))));
        Assert.True(model.Wait(TimeSpan.FromSeconds(20)) && data.Wait(TimeSpan.FromSeconds(20)), "a FIFO input hung");
        Assert.Equal(ErrorCodes.ModelNotFound, model.Result.Code);
        Assert.Equal(ErrorCodes.DatasetNotFound, data.Result.Code);
    }

    [Fact]
    public void AFifoInADatasetFolder_IsAnErrorInTheCacheKey_NotAHang()
    {
        using var temp = new TestPaths.TempFolder();
        ModelFile.Save(TestModels.Plain(), temp.File("m.onnx"));
        Directory.CreateDirectory(temp.File("data/cat"));
        MakeFifo(temp.File("data/cat/a.png"));
        var key = Task.Run(() => Assert.Throws<ModelBuildException>(() =>
            ModelBuildTasks.Compression.CompressionCache.Key(temp.File("m.onnx"), temp.File("data"), null, new ModelBuildTasks.Compression.CompressionSettings())));
        Assert.True(key.Wait(TimeSpan.FromSeconds(20)), "a FIFO in the dataset hung the cache key");
        Assert.Equal(ErrorCodes.DatasetNotFound, key.Result.Code);
        Assert.Contains("regular file", key.Result.Message);
    }
}

using ModelBuildTasks.Graph;

namespace ModelBuildTasks.Cli.Tests;

/// <summary>
/// What a rebuild of an item whose outputs are up to date does: nothing, even when only the cache has
/// moved; and what a cache hit does: says so, and leaves the outputs whose bytes it would not change alone.
/// </summary>
public class MsBuildIncrementalTests
{
    [Fact]
    public void MovingTheCacheFolder_LeavesAnUpToDateItemAlone_InsteadOfCompressingItAgain()
    {
        // Where results are cached never changes them, so a new (empty) ModelCompressionCacheDir must not
        // cost every project a compression from scratch, as it did while the folder was in the fingerprint.
        using var temp = new TestPaths.TempFolder();
        ModelFile.Save(TestModels.Plain(), temp.File("m.onnx"));
        var item = Item(TestPaths.FashionTest);
        var first = MsBuildTask.Build(temp.Path, item);
        Assert.True(first.ExitCode == 0, first.Output);
        Assert.Contains("compressing m.onnx", first.Output);
        var container = File.ReadAllBytes(temp.File("out/m/m.cmodel"));

        var (exitCode, output) = MsBuildTask.Build(temp.Path, item, cacheDirectory: "moved cache");

        Assert.True(exitCode == 0, output);
        Assert.DoesNotContain("compressing m.onnx", output);
        Assert.False(Directory.Exists(temp.File("moved cache")), "the engine ran"); // it creates the folder it caches in
        Assert.Equal(container, File.ReadAllBytes(temp.File("out/m/m.cmodel")));
    }

    [Fact]
    public void ACacheHit_SaysSo_AndLeavesOutputsWithTheSameBytesAlone()
    {
        // The dataset moves (same bytes, another path): the item's fingerprint changes, so the engine runs,
        // and the engine's cache has the result. Rewriting the container and the class with the same bytes
        // gave them new times, and the app's compiler ran again for nothing.
        using var temp = new TestPaths.TempFolder();
        ModelFile.Save(TestModels.Plain(), temp.File("m.onnx"));
        Directory.CreateDirectory(temp.File("moved"));
        File.Copy(TestPaths.FashionTest, temp.File("moved/t10k-images-idx3-ubyte.gz"));
        File.Copy(ModelBuildTasks.Data.DatasetFiles.LabelsPathFor(TestPaths.FashionTest)!, temp.File("moved/t10k-labels-idx1-ubyte.gz"));
        var first = MsBuildTask.Build(temp.Path, Item(TestPaths.FashionTest));
        Assert.True(first.ExitCode == 0, first.Output);
        Assert.Contains("ModelBuildTasks: compressing m.onnx", first.Output);
        string[] unchanged = ["out/m/m.cmodel", "out/m/m.g.cs", "out/m/external-data.txt"];
        var old = new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc); // any rewrite gives a later time, however coarse the clock
        var bytes = unchanged.ToDictionary(f => f, f => File.ReadAllBytes(temp.File(f)));
        foreach (var f in unchanged) File.SetLastWriteTimeUtc(temp.File(f), old);

        var hit = MsBuildTask.Build(temp.Path, Item(temp.File("moved/t10k-images-idx3-ubyte.gz")));

        Assert.True(hit.ExitCode == 0, hit.Output);
        Assert.Contains("ModelBuildTasks: m.onnx taken from the cache, not compressed again (cache: hit ", hit.Output);
        Assert.DoesNotContain("compressing", hit.Output);
        foreach (var f in unchanged)
        {
            Assert.Equal(bytes[f], File.ReadAllBytes(temp.File(f)));
            Assert.True(File.GetLastWriteTimeUtc(temp.File(f)) == old, $"{f} was written again with the same bytes");
        }
        // The report names this run's data, so it is rewritten; the stamp records the new fingerprint ...
        Assert.Contains("moved/t10k-images-idx3-ubyte.gz", File.ReadAllText(temp.File("out/m/report.json")));
        // ... so the next build does not start the engine, although the outputs are older than the data.
        var again = MsBuildTask.Build(temp.Path, Item(temp.File("moved/t10k-images-idx3-ubyte.gz")));
        Assert.True(again.ExitCode == 0, again.Output);
        Assert.DoesNotContain("cache: hit", again.Output);
        Assert.DoesNotContain("compressing", again.Output);
        Assert.True(File.GetLastWriteTimeUtc(temp.File("out/m/m.cmodel")) == old);
    }

    [Fact]
    public void ATouchedButUnchangedModel_RenewsTheStamp_SoTheIdeCheckSeesItUpToDate()
    {
        // Visual Studio's fast up-to-date check compares the model's time with the stamp's (UpToDateCheckBuilt).
        using var temp = new TestPaths.TempFolder();
        ModelFile.Save(TestModels.Plain(), temp.File("m.onnx"));
        var item = Item(TestPaths.FashionTest);
        var first = MsBuildTask.Build(temp.Path, item);
        Assert.True(first.ExitCode == 0, first.Output);
        var old = new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        foreach (var f in new[] { "out/m/fingerprint.txt", "out/m/m.cmodel", "out/m/m.g.cs" }) File.SetLastWriteTimeUtc(temp.File(f), old);
        File.SetLastWriteTimeUtc(temp.File("m.onnx"), old.AddDays(1)); // touched: newer than every output, the same bytes

        var (exitCode, output) = MsBuildTask.Build(temp.Path, item);

        Assert.True(exitCode == 0, output);
        Assert.DoesNotContain("compressing", output);
        Assert.True(File.GetLastWriteTimeUtc(temp.File("out/m/fingerprint.txt")) > File.GetLastWriteTimeUtc(temp.File("m.onnx")), "the stamp still looks older than the model");
        Assert.True(File.GetLastWriteTimeUtc(temp.File("out/m/m.cmodel")) == old, "the container was written again");
    }

    [Fact]
    public void RenamingAClassFolderOfTheValidationData_CompressesAgain()
    {
        // An image folder's subfolders are its class names: renamed, no file's name or bytes change, yet the labels do,
        // and the build must not keep the outputs made with the old ones.
        using var temp = new TestPaths.TempFolder();
        ModelFile.Save(TestModels.Plain(), temp.File("m.onnx"));
        Fixtures.WriteClassFolders(temp.File("data"), [(1, "a-trouser"), (8, "b-bg")], perClass: 10);
        var item = Item(temp.File("data"));
        var first = MsBuildTask.Build(temp.Path, item);
        Assert.True(first.ExitCode == 0, first.Output);
        Assert.Contains("compressing m.onnx", first.Output);

        Directory.Move(temp.File("data/b-bg"), temp.File("data/b-bag")); // the same order, the same files
        var (exitCode, output) = MsBuildTask.Build(temp.Path, item);

        Assert.True(exitCode == 0, output);
        Assert.Contains("compressing m.onnx", output);
    }

    [Fact]
    public void AnEngineThatStopsWithoutAnError_IsAnMbtErrorNamingTheModel()
    {
        // As an engine killed by the out-of-memory killer: no MBT line of its own, only a non-zero exit. Here the host
        // cannot find it, and says so in a line of its own.
        using var temp = new TestPaths.TempFolder();
        ModelFile.Save(TestModels.Plain(), temp.File("m.onnx"));

        var (exitCode, output) = MsBuildTask.Build(temp.Path, Item(TestPaths.FashionTest), engine: temp.File("missing/engine.dll"));

        Assert.NotEqual(0, exitCode);
        Assert.Contains($"{temp.File("m.onnx")} : error {ErrorCodes.EngineStopped}: the compression engine stopped with exit code", output);
        Assert.DoesNotContain("MSB6006", output);
    }

    // The item every test builds: the plain test model, 7 bits, 100 validation images from `data`.
    static string Item(string data) => $"""<CompressModel Include="m.onnx" ValidationData="{data}" Methods="iq" Bits="7" MaxValidationImages="100" Metric="agreement" />""";
}

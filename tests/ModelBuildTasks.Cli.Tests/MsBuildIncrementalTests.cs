using ModelBuildTasks.Graph;

namespace ModelBuildTasks.Cli.Tests;

/// <summary>What a rebuild of an item whose outputs are up to date does: nothing, even when only the cache has moved.</summary>
public class MsBuildIncrementalTests
{
    [Fact]
    public void MovingTheCacheFolder_LeavesAnUpToDateItemAlone_InsteadOfCompressingItAgain()
    {
        // Where results are cached never changes them, so a new (empty) ModelCompressionCacheDir must not
        // cost every project a compression from scratch, as it did while the folder was in the fingerprint.
        using var temp = new TestPaths.TempFolder();
        ModelFile.Save(TestModels.Plain(), temp.File("m.onnx"));
        var item = $"""<CompressModel Include="m.onnx" ValidationData="{TestPaths.FashionTest}" Methods="iq" Bits="7" MaxValidationImages="100" Metric="agreement" />""";
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
}

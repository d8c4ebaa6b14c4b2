using ModelBuildTasks.Container;

namespace ModelBuildTasks.Cli.Tests;

/// <summary>Defects 1 and 6 of issue #12: --allow-miss changes what is written, so it is part of the cache key; a cache that cannot be written costs a warning, never the result.</summary>
public class CacheSafetyTests
{
    static readonly string Validation = TestPaths.FashionValidation;

    static string Methods(string path) => ContainerMetadata.Parse(ModelContainer.Read(File.ReadAllBytes(path)).MetadataJson).Compression["methods"];

    static string[] Args(TestPaths.TempFolder temp, string output, params string[] extra) =>
        ["compress", temp.File("m.onnx"), "--data", Validation, "-o", temp.File(output), "--cache-dir", temp.File("cache"),
         "--methods", "iq", "--bits", "4", "--target-accuracy", "0.99", "--max-validation-images", "200", .. extra];

    [Fact]
    public void BuildsOfTheSameModelAtOnce_CompressItOnce_TheOthersWaitAndTakeTheResult()
    {
        // As a multi-targeted project's two frameworks do. The test holds the claim first, so both
        // processes meet a held claim however the machine schedules them.
        using var temp = new TestPaths.TempFolder();
        ModelBuildTasks.Graph.ModelFile.Save(TestModels.Plain(), temp.File("m.onnx"));
        // A first run gives the key (its entry's folder); the entry is then removed, as if never stored.
        var warm = CliRunner.Run([.. Args(temp, "warm.cmodel"), "--allow-miss"]);
        Assert.True(warm.ExitCode == 0, warm.Stderr);
        var entry = Assert.Single(ModelBuildTasks.Compression.Caching.LocalCacheEntries.List(temp.File("cache"), withReports: false));
        var key = entry.Key;
        Directory.Delete(Path.Combine(temp.File("cache"), key[..2], key), recursive: true);
        var held = new ModelBuildTasks.Compression.CompressionCache(temp.File("cache")).Lock(key, () => { });
        Assert.NotNull(held);
        var environment = new Dictionary<string, string?>();
        var a = CliRunner.Start(environment, [.. Args(temp, "a.cmodel"), "--allow-miss"]);
        var b = CliRunner.Start(environment, [.. Args(temp, "b.cmodel"), "--allow-miss"]);
        Assert.True(a.WaitForStderr("cache: waiting for another build that compresses the same model", TimeSpan.FromMinutes(2)), a.StderrSoFar);
        Assert.True(b.WaitForStderr("cache: waiting for another build that compresses the same model", TimeSpan.FromMinutes(2)), b.StderrSoFar);
        held!.Dispose();
        var (first, second) = (a.Finish(), b.Finish());

        Assert.True(first.ExitCode == 0 && second.ExitCode == 0, first.Stderr + second.Stderr);
        Assert.Single(new[] { first, second }, r => r.Stderr.Contains("stage baseline")); // one compressed
        Assert.Single(new[] { first, second }, r => r.Stderr.Contains("cache: hit")); // the other took its result
        Assert.Equal(File.ReadAllBytes(temp.File("a.cmodel")), File.ReadAllBytes(temp.File("b.cmodel")));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AllowMiss_NeverServesTheOtherModeFromTheCache(bool allowMissFirst)
    {
        using var temp = new TestPaths.TempFolder();
        ModelBuildTasks.Graph.ModelFile.Save(TestModels.Plain(), temp.File("m.onnx"));
        string[] allow = ["--allow-miss"];
        var first = CliRunner.Run(Args(temp, "first.cmodel", allowMissFirst ? allow : []));
        var second = CliRunner.Run(Args(temp, "second.cmodel", allowMissFirst ? [] : allow));
        var (allowed, strict, allowedFile, strictFile) = allowMissFirst ? (first, second, "first.cmodel", "second.cmodel") : (second, first, "second.cmodel", "first.cmodel");

        Assert.True(allowed.ExitCode == 0, allowed.Stderr);
        Assert.Contains("warning MBT1401", allowed.Stderr);
        Assert.Contains("the original model was written instead", allowed.Stderr);
        Assert.Equal("none", Methods(temp.File(allowedFile))); // what it says it wrote

        Assert.True(strict.ExitCode == 4, strict.Stderr);
        Assert.Contains("the best model found was written", strict.Stderr);
        Assert.Equal("iq", Methods(temp.File(strictFile)));
        Assert.DoesNotContain("cache: hit", second.Stderr);

        // The same mode again is still served from the cache.
        var again = CliRunner.Run(Args(temp, "again.cmodel", allowMissFirst ? [] : allow));
        Assert.Contains("cache: hit", again.Stderr);
        Assert.Equal(File.ReadAllBytes(temp.File("second.cmodel")), File.ReadAllBytes(temp.File("again.cmodel")));
    }

    [Fact]
    public void ACacheThatCannotBeWritten_IsAWarning_AndTheResultIsStillWritten()
    {
        using var temp = new TestPaths.TempFolder();
        ModelBuildTasks.Graph.ModelFile.Save(TestModels.Plain(), temp.File("m.onnx"));
        Directory.CreateDirectory(temp.File("cache"));
        File.WriteAllText(temp.File("cache/tmp"), "a file where the cache's work folder goes");
        var result = CliRunner.Run("compress", temp.File("m.onnx"), "--data", Validation, "-o", temp.File("m.cmodel"), "--cache-dir", temp.File("cache"),
            "--methods", "iq", "--bits", "7", "--target-accuracy", "0", "--max-validation-images", "200", "--report", temp.File("report.json"));
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Contains("warning MBT1503", result.Stderr);
        ModelContainer.Read(File.ReadAllBytes(temp.File("m.cmodel")));
        Assert.True(File.Exists(temp.File("report.json")));
    }
}

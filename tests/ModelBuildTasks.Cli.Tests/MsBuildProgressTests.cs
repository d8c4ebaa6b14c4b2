namespace ModelBuildTasks.Cli.Tests;

/// <summary>
/// The progress lines reach MSBuild: the real CompressModels task runs the real CLI out of process,
/// and the default (minimal) verbosity shows its <c>info:</c> lines (stage, candidate, last accuracy,
/// time left) while it compresses.
/// </summary>
public class MsBuildProgressTests
{
    [Fact]
    public void TheTask_AtDefaultVerbosity_ShowsStageAndCandidateLines()
    {
        using var temp = new TestPaths.TempFolder();
        var (exitCode, output) = MsBuildTask.Build(temp.Path,
            $"""<CompressModel Include="{Path.Combine(TestPaths.RepoRoot, "samples/models/fashion_vgg.onnx")}" ValidationData="{TestPaths.FashionTest}" Methods="iq" MaxValidationImages="300" />""");
        Assert.True(exitCode == 0, output);
        Assert.Contains("ModelBuildTasks: stage baseline", output);
        Assert.Matches(@"ModelBuildTasks: stage IQ, candidate 1/~\d+ \(bits=7\)", output);
        Assert.Matches(@"ModelBuildTasks: stage IQ, candidate [2-9]/~\d+ \(bits=\d\), last accuracy \d+\.\d\d%, ~\d+ (s|min) left", output);
        Assert.DoesNotContain("warning MBT", output.Replace("MBT1402", "")); // the lines are messages, not warnings (the small-set warning aside)
    }
}

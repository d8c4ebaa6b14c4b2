using System.Diagnostics;

namespace ModelBuildTasks.Cli.Tests;

/// <summary>
/// The progress lines reach MSBuild: the real CompressModels task (built from src/) runs the real
/// CLI out of process, and the default (minimal) verbosity shows its <c>info:</c> lines (stage,
/// candidate, last accuracy, time left) while it compresses. The packed-package builds are in the end-to-end tests.
/// </summary>
public class MsBuildProgressTests
{
    [Fact]
    public void TheTask_AtDefaultVerbosity_ShowsStageAndCandidateLines()
    {
        // The task is the net10.0 build (the net8.0 one only feeds the package's net8.0 dependency group).
        var task = Path.Combine(TestPaths.RepoRoot, "src/ModelBuildTasks.Build/bin/Release/net10.0/ModelBuildTasks.Build.dll");
        using var temp = new TestPaths.TempFolder();
        File.WriteAllText(temp.File("compress.proj"), $"""
            <Project>
              <UsingTask TaskName="ModelBuildTasks.Build.CompressModels" AssemblyFile="{task}" />
              <Target Name="Build">
                <ItemGroup>
                  <CompressModel Include="{Path.Combine(TestPaths.RepoRoot, "samples/models/fashion_vgg.onnx")}" ValidationData="{TestPaths.FashionTest}" Methods="iq" MaxValidationImages="300" AllowAccuracyMiss="true" />
                </ItemGroup>
                <CompressModels Models="@(CompressModel)" EngineAssembly="{Path.Combine(AppContext.BaseDirectory, "dotnet-compress-model.dll")}"
                                ProjectDirectory="$(MSBuildProjectDirectory)" OutputDirectory="$(MSBuildProjectDirectory)/out" CacheDirectory="cache" AllowAccuracyMiss="true" />
              </Target>
            </Project>
            """);
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = temp.Path };
        foreach (var a in new[] { "msbuild", "compress.proj", "-v:m", "-nodeReuse:false", "-tl:off" }) start.ArgumentList.Add(a);
        start.Environment["CI"] = null;
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(20)));
        Assert.True(process.ExitCode == 0, output + stderr.Result);
        Assert.Contains("ModelBuildTasks: stage baseline", output);
        Assert.Matches(@"ModelBuildTasks: stage IQ, candidate 1/~\d+ \(bits=7\)", output);
        Assert.Matches(@"ModelBuildTasks: stage IQ, candidate [2-9]/~\d+ \(bits=\d\), last accuracy \d+\.\d\d%, ~\d+ (s|min) left", output);
        Assert.DoesNotContain("warning MBT", output.Replace("MBT1402", "")); // the lines are messages, not warnings (the small-set warning aside)
    }
}

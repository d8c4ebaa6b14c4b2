using System.Diagnostics;
using System.Text.RegularExpressions;

namespace ModelBuildTasks.Cli.Tests;

/// <summary>Help as users run the tools: <c>dotnet compress-model</c>, meaningful placeholders, <c>train --help</c> through the main tool.</summary>
public class HelpTests
{
    static readonly Dictionary<string, string?> WithAddOn = new() { ["MBT_TRAINING_TOOL"] = CliRunner.TrainingTool };

    [Theory]
    [InlineData("--help")]
    [InlineData("compress", "--help")]
    [InlineData("evaluate", "--help")]
    [InlineData("export", "--help")]
    [InlineData("cache", "prune", "--help")]
    public void Help_SaysDotnetCompressModel_WithPlaceholdersNotOptionNames(params string[] args)
    {
        var result = CliRunner.Run(args);
        Assert.True(result.ExitCode == 0, result.Stderr); // help works even though required options are missing
        Assert.Equal("", result.Stderr);
        Assert.Contains("\n  dotnet compress-model", result.Stdout.ReplaceLineEndings("\n"));
        Assert.DoesNotContain("dotnet-compress-model ", result.Stdout);
        // System.CommandLine's default placeholder repeats the option name (--data <data>); none may be left.
        Assert.DoesNotMatch(@"--([a-z-]+) <\1>", result.Stdout);
    }

    [Fact]
    public void CompressHelp_NamesWhatEachValueIs_AndKeepsTheColumnsAligned()
    {
        var help = CliRunner.Run("compress", "--help").Stdout.ReplaceLineEndings("\n");
        Assert.Contains("dotnet compress-model compress MODEL [options]", help);
        foreach (var expected in new[] { "--data DATASET (REQUIRED)", "--test-data DATASET", "-o, --output OUT.cmodel", "--preprocess SPEC", "--labels NAMES", "--cache-dir DIR", "--report REPORT.json" })
            Assert.Contains(expected, help);
        // Every description in the options section starts in the same column.
        var rows = help[help.IndexOf("Options:", StringComparison.Ordinal)..].Split('\n').Skip(1).Where(l => Regex.IsMatch(l, @"^  -\S.*\S {2,}\S")).ToList();
        Assert.True(rows.Count > 20, help);
        var columns = rows.Select(l => Regex.Match(l, @"^(  \S.*?\S {2,})\S").Groups[1].Length).Distinct().ToList();
        Assert.True(columns.Count == 1, string.Join("\n", rows));
    }

    [Fact]
    public void Export_IsListed_WithItsArguments()
    {
        var help = CliRunner.Run("export", "--help").Stdout;
        Assert.Contains("dotnet compress-model export CONTAINER [options]", help);
        Assert.Contains("-o, --output OUT.onnx (REQUIRED)", help);
    }

    [Theory]
    [InlineData("train", "--help")]
    [InlineData("train", "-h")]
    [InlineData("train", "--", "--help")]
    [InlineData("-v", "quiet", "train", "--help")] // global options first: the command is still train, and they are not the add-on's
    [InlineData("--no-color", "--verbosity=quiet", "train", "--help")]
    [InlineData("--verbosity:quiet", "-v=quiet", "train", "--help")]
    public void TrainHelp_ThroughTheMainTool_ListsTheAddOnsOptions(params string[] args)
    {
        var result = CliRunner.RunWith(WithAddOn, args);
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Contains("dotnet compress-model train MODEL [options]", result.Stdout);
        Assert.DoesNotContain("dotnet-compress-model-train train", result.Stdout);
        foreach (var expected in new[] { "--train-data DATASET (REQUIRED)", "--epochs EPOCHS", "--labels NAMES", "-o, --output OUT.onnx (REQUIRED)" })
            Assert.Contains(expected, result.Stdout);
    }

    [Fact]
    public void TrainHelp_WithoutTheAddOn_SaysHowToInstallIt()
    {
        using var temp = new TestPaths.TempFolder();
        var result = CliRunner.RunIn(temp.Path, new Dictionary<string, string?> { ["MBT_TRAINING_TOOL"] = null, ["PATH"] = "/usr/bin:/bin" }, "train", "--help");
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("dotnet compress-model train MODEL --train-data DATASET -o OUT.onnx", result.Stdout);
        Assert.Contains("dotnet tool install dotnet-compress-model-train", result.Stdout);
    }

    [Fact]
    public void AddOnHelp_RunAlone_SaysItsOwnName()
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(CliRunner.TrainingTool);
        start.ArgumentList.Add("train");
        start.ArgumentList.Add("--help");
        start.Environment["MBT_USAGE_NAME"] = null;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Assert.Equal(0, process.ExitCode);
        Assert.Contains("dotnet compress-model-train train MODEL [options]", stdout);
    }

    [Theory]
    [InlineData("loud")]
    [InlineData("")]
    public void Verbosity_UnknownLevel_IsACodedUsageError(string level)
    {
        var result = CliRunner.Run("inspect", "m.onnx", "--verbosity", level);
        CliRunner.AssertCleanError(result, 2, ErrorCodes.InvalidSetting);
        Assert.Contains("--verbosity must be quiet, normal or detailed", result.Stderr);
    }
}

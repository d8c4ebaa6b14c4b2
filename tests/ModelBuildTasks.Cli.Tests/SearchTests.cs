using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace ModelBuildTasks.Cli.Tests;

public class SearchTests
{
    static readonly string Validation = TestPaths.FashionValidation;

    [Fact]
    public void GridSearch_ReportsEvaluationsAndSeconds_AndWritesAnHtmlReportWithValidSvgCharts()
    {
        using var temp = new TestPaths.TempFolder();
        ModelBuildTasks.Graph.ModelFile.Save(TestModels.Residual(), temp.File("m.onnx"));
        var result = CliRunner.Run("compress", temp.File("m.onnx"), "--data", Validation, "--search", "grid", "--methods", "iq,ns", "--min-bits", "6",
            "--resolution", "0.45", "--target-accuracy", "0", "-o", temp.File("m.cmodel"), "--report", temp.File("report.json"), "--no-cache", "--json");
        Assert.True(result.ExitCode == 0, result.Stderr);
        var json = result.Json;
        Assert.Equal("grid", json.GetProperty("search").GetString());
        Assert.Equal(2 * 3, json.GetProperty("evaluations").GetInt32()); // bits {7, 6} x ns {0, 0.45, 0.9}
        Assert.True(json.GetProperty("seconds").GetDouble() > 0);
        Assert.Equal("0.9", json.GetProperty("chosen").GetProperty("ns_ratio").GetString()); // target 0: the smallest model wins
        Assert.All(json.GetProperty("channels").EnumerateArray(), c => Assert.Equal("consumer-variance-share", c.GetProperty("criterion").GetString())); // post-training: measured
        Assert.NotEmpty(json.GetProperty("channels").EnumerateArray());

        var html = File.ReadAllText(temp.File("report.html"));
        Assert.StartsWith("<!DOCTYPE html>", html);
        Assert.DoesNotContain("<script", html); // self-contained and static
        Assert.DoesNotContain("chart not drawn", html);
        var figures = Regex.Matches(html, "<figure id=\"([a-z-]+)\">(.*?)</figure>", RegexOptions.Singleline);
        Assert.Equal(["search-path", "bytes-per-layer", "channels-per-layer"], figures.Select(f => f.Groups[1].Value));
        foreach (Match figure in figures)
        {
            var svg = XDocument.Parse(figure.Groups[2].Value); // well-formed XML
            XNamespace ns = "http://www.w3.org/2000/svg";
            Assert.Equal(ns + "svg", svg.Root!.Name);
            Assert.True(svg.Descendants().Count() > 20, $"{figure.Groups[1].Value}: {svg.Descendants().Count()} elements");
            Assert.NotEmpty(svg.Descendants(ns + "text"));
        }
        Assert.Contains("Search path (grid, 6 evaluations)", figures[0].Groups[2].Value);
        Assert.Contains("Channels kept per layer", figures[2].Groups[2].Value);
    }

    [Fact]
    public void AFixedKnob_ImpliesTheFixedSearch_AndContradictingTheSearchIsAClearError()
    {
        using var temp = new TestPaths.TempFolder();
        ModelBuildTasks.Graph.ModelFile.Save(TestModels.Plain(), temp.File("m.onnx"));
        var fixedBits = CliRunner.Run("compress", temp.File("m.onnx"), "--data", Validation, "--bits", "6", "--target-accuracy", "0", "-o", temp.File("m.cmodel"), "--no-cache", "--json");
        Assert.True(fixedBits.ExitCode == 0, fixedBits.Stderr);
        Assert.Equal("fixed", fixedBits.Json.GetProperty("search").GetString());
        Assert.Equal("6", fixedBits.Json.GetProperty("chosen").GetProperty("bits").GetString());
        Assert.Equal(1, fixedBits.Json.GetProperty("evaluations").GetInt32());
        Assert.DoesNotContain("MBT1402", fixedBits.Stderr); // an absolute target has no budget for noise to spend

        var contradiction = CliRunner.Run("compress", temp.File("m.onnx"), "--data", Validation, "--search", "margin", "--bits", "6", "-o", temp.File("x.cmodel"), "--no-cache");
        CliRunner.AssertCleanError(contradiction, 2, ErrorCodes.InvalidSetting);
        Assert.Contains("--bits fix a knob, but --search margin chooses them", contradiction.Stderr);
        var unknown = CliRunner.Run("compress", temp.File("m.onnx"), "--data", Validation, "--search", "random", "-o", temp.File("x.cmodel"), "--no-cache");
        CliRunner.AssertCleanError(unknown, 2, ErrorCodes.InvalidSetting);
        Assert.False(File.Exists(temp.File("x.cmodel")));
    }

    // The fixed search checks its one candidate against the budget as the other searches check theirs, on
    // images just as few: it did not warn (MBT1402) that 200 images cannot measure a 1-point drop.
    [Fact]
    public void TheFixedSearch_WarnsOfATooSmallValidationSet_AsTheMarginSearchDoes()
    {
        using var temp = new TestPaths.TempFolder();
        ModelBuildTasks.Graph.ModelFile.Save(TestModels.Plain(), temp.File("m.onnx"));
        var result = CliRunner.Run("compress", temp.File("m.onnx"), "--data", Validation, "--search", "fixed", "--methods", "iq", "--bits", "7",
            "--max-validation-images", "200", "--max-accuracy-drop", "1", "-o", temp.File("m.cmodel"), "--no-cache", "--json");
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Equal("fixed", result.Json.GetProperty("search").GetString());
        Assert.Matches(@"m\.onnx: warning MBT1402: 200 validation images measure the drop to \+-\d", result.Stderr);
        Assert.Contains(result.Json.GetProperty("warnings").EnumerateArray(), w => w.GetProperty("code").GetString() == "MBT1402");
    }

    [Fact]
    public void TheMarginSearch_IsTheDefault_AndPrintsItsStages()
    {
        using var temp = new TestPaths.TempFolder();
        ModelBuildTasks.Graph.ModelFile.Save(TestModels.Plain(), temp.File("m.onnx"));
        var result = CliRunner.Run("compress", temp.File("m.onnx"), "--data", Validation, "--max-validation-images", "200", "-o", temp.File("m.cmodel"), "--no-cache");
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Contains("margin search", result.Stdout);
        // 200 images measure accuracy far more coarsely than a 1-point budget: the user is told.
        Assert.Matches(@"m\.onnx: warning MBT1402: 200 validation images measure the drop to \+-\d", result.Stderr);
        foreach (var stage in new[] { "iq", "ns", "dc" }) Assert.Matches($@"[│|] {stage} ", result.Stdout);
    }
}

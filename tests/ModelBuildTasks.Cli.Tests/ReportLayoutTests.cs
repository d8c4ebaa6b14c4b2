using System.Text.RegularExpressions;
using ModelBuildTasks.Compression;
using ModelBuildTasks.Reporting;

namespace ModelBuildTasks.Cli.Tests;

/// <summary>
/// The HTML report's layout, checked on the SVG ScottPlot draws (no browser on the build machines):
/// layer names whole and inside the picture, the legend over no bar, the settings line wrapping, a
/// slower model marked, the per-class table; and, end to end, the per-class figures of a real run.
/// </summary>
public class ReportLayoutTests
{
    static readonly string Vgg = Path.Combine(TestPaths.RepoRoot, "samples/models/fashion_vgg.onnx");

    // Long exported names, and the largest layer last and first: where a legend in a corner used to sit.
    static CompressionReport Report() => new()
    {
        Model = "fashion_vgg.onnx",
        Layers = Enumerable.Range(0, 14).Select(i => new LayerBytes($"/features/features.{i * 3}/Conv_output_0_weight_quantized", i is 0 or 13 ? 900_000 : 40_000 * (i + 1), i is 0 or 13 ? 120_000 : 6_000 * (i + 1), Bits: i == 13 ? 2 : 5)).ToList(),
        Channels = Enumerable.Range(0, 8).Select(i => new LayerChannels($"Parameter{193 + i}_conv_output", 20 + i, 64, "consumer-variance-share")).ToList(),
        PerClass = [new(0, "T-shirt/top", 100, 91, 90), new(1, "Trouser", 100, 99, 99), new(2, "Pullover", 100, 88, 80), new(3, "Dress", 100, 92, 93)],
        LatencyMsOriginal = 0.2, LatencyMsCompressed = 0.25, LatencySpeedup = 0.8,
        Settings = string.Join(";", Enumerable.Range(0, 30).Select(i => $"setting_number_{i}=value_{i}")),
        Candidates = [new CandidateResult("iq: bits=7", 500_000, 0.93, "iq", 7, Chosen: true, Bound: 0.92)],
        Measure = "accuracy", BaselineAccuracy = 0.94, FinalAccuracy = 0.93, TargetAccuracy = 0.92,
    };

    static SvgGeometry.Box LegendFrame(SvgGeometry svg, params string[] entries)
    {
        var texts = svg.Texts.Where(t => entries.Contains(t.Content)).Select(t => t.Box).ToList();
        Assert.Equal(entries.Length, texts.Count);
        // The legend's white frame: the smallest white rectangle holding every legend entry.
        return svg.Rects.Where(r => r.Fill == "white" && texts.All(t => t.Left >= r.Box.Left && t.Right <= r.Box.Right + 1 && t.Top >= r.Box.Top - 1 && t.Bottom <= r.Box.Bottom + 1))
            .Select(r => r.Box).OrderBy(b => (b.Right - b.Left) * (b.Bottom - b.Top)).First();
    }

    static void AssertReadable(SvgGeometry svg, IEnumerable<string> labels, string legendBefore, string legendAfter)
    {
        var names = labels.ToList();
        foreach (var text in svg.Texts)
            Assert.True(text.Box.Inside(svg.Width, svg.Height), $"'{text.Content}' at {text.Box} lies outside the {svg.Width}x{svg.Height} picture");
        foreach (var name in names)
            Assert.Contains(svg.Texts, t => t.Content == name); // every layer named, level (not rotated) below
        Assert.All(svg.Texts.Where(t => names.Contains(t.Content)), t => Assert.True(t.Box.Bottom - t.Box.Top < 20, $"'{t.Content}' is not level"));
        var legend = LegendFrame(svg, legendBefore, legendAfter);
        var bars = svg.Rects.Where(r => r.Fill is "#B0C4DE" or "#4682B4" && !(r.Box.Left >= legend.Left && r.Box.Right <= legend.Right && r.Box.Top >= legend.Top && r.Box.Bottom <= legend.Bottom)).ToList();
        Assert.True(bars.Count >= 2 * names.Count(), $"{bars.Count} bars");
        Assert.DoesNotContain(bars, b => b.Box.Overlaps(legend));
        // Names stay left of the bars they label.
        var firstBar = bars.Min(b => b.Box.Left);
        Assert.All(svg.Texts.Where(t => names.Contains(t.Content)), t => Assert.True(t.Box.Right <= firstBar + 1, $"'{t.Content}' runs into the bars ({t.Box.Right} > {firstBar})"));
    }

    [Fact]
    public void BytesChart_NamesEveryLayerInFull_InsideThePicture_AndTheLegendCoversNoBar()
    {
        var report = Report();
        AssertReadable(new SvgGeometry(Charts.BytesPerLayer(report)), report.Layers.Select(Charts.LayerLabel), "original (fp32)", "compressed");
    }

    [Fact]
    public void ChannelsChart_NamesEveryLayerInFull_InsideThePicture_AndTheLegendCoversNoBar()
    {
        var report = Report();
        AssertReadable(new SvgGeometry(Charts.ChannelsPerLayer(report)), report.Channels.Select(c => Charts.Short(c.Layer)), "before", "kept");
    }

    [Fact]
    public void ShortNames_KeepBothEnds()
    {
        Assert.Equal("conv1.weight", Charts.Short("conv1.weight"));
        var shortened = Charts.Short("/features/features.10/Conv_output_0_weight_quantized");
        Assert.True(shortened.Length <= 32);
        Assert.StartsWith("/features/fe", shortened);
        Assert.EndsWith("0_weight_quantized", shortened);
        // An emoji at the cut is kept whole: half a surrogate pair made the label vanish from the chart.
        var emoji = Charts.Short("layer_elevx😀_and_a_long_name_that_goes_on_weight"); // the emoji is characters 11 and 12
        Assert.Equal(emoji.Count(char.IsHighSurrogate), emoji.Count(char.IsLowSurrogate));
        Assert.StartsWith("layer_elevx😀…", emoji);
    }

    [Fact]
    public void Html_WrapsTheSettings_MarksASlowerModel_AndListsClassesWorstFirst()
    {
        var html = HtmlReport.Render(Report());
        Assert.Matches(@"code\{[^}]*overflow-wrap:anywhere", html);
        Assert.Contains("<code class=\"settings\">setting_number_0=value_0;", html);
        Assert.Contains("&#9888; 0.80x: slower than the original", html);
        Assert.DoesNotContain("{E(report.Measure)}", html); // table headers are filled in
        var table = Regex.Match(html, "<table id=\"per-class\">(.*?)</table>", RegexOptions.Singleline).Groups[1].Value;
        var rows = Regex.Matches(table, "<tr><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td><td[^>]*>(.*?)</td></tr>").Select(m => (m.Groups[1].Value, m.Groups[3].Value, m.Groups[4].Value, m.Groups[5].Value)).ToList();
        Assert.Equal(("2 Pullover", "88.00%", "80.00%", "-8.00"), rows[0]);
        Assert.Equal(("3 Dress", "92.00%", "93.00%", "+1.00"), rows[^1]);
        Assert.Equal(4, rows.Count);
    }

    [Fact]
    public void Compress_ReportsAccuracyPerClass_FromTheSameImagesAsTheTotals()
    {
        using var temp = new TestPaths.TempFolder();
        var result = CliRunner.Run("compress", Vgg, "--data", TestPaths.FashionTest, "--max-validation-images", "400", "--methods", "iq", "--bits", "5",
            "--no-cache", "--allow-miss", "-o", temp.File("vgg.cmodel"), "--report", temp.File("report.json"), "--json", "--verbosity", "quiet");
        Assert.True(result.ExitCode == 0, result.Stderr);
        var json = result.Json;
        var perClass = json.GetProperty("per_class").EnumerateArray().ToList();
        Assert.Equal(10, perClass.Count);
        Assert.Equal(400, perClass.Sum(c => c.GetProperty("images").GetInt32()));
        Assert.Equal(json.GetProperty("baseline_accuracy").GetDouble(), perClass.Sum(c => c.GetProperty("original_correct").GetInt32()) / 400.0, 6);
        Assert.Equal(json.GetProperty("final_accuracy").GetDouble(), perClass.Sum(c => c.GetProperty("compressed_correct").GetInt32()) / 400.0, 6);
        Assert.Equal("Ankle boot", perClass[9].GetProperty("name").GetString()); // the model's stored class names
        var html = File.ReadAllText(temp.File("report.html"));
        Assert.Contains("<table id=\"per-class\">", html);
        Assert.Contains("Ankle boot", html);
        Assert.Contains("| class | images | original | compressed | change (points) |", File.ReadAllText(temp.File("report.md")));

        // The terminal summary names the class that lost most (here from the cache: the same figures).
        var text = CliRunner.Run("compress", Vgg, "--data", TestPaths.FashionTest, "--max-validation-images", "400", "--methods", "iq", "--bits", "5",
            "--allow-miss", "-o", temp.File("vgg2.cmodel"), "--cache-dir", temp.File("cache"), "--verbosity", "quiet");
        Assert.True(text.ExitCode == 0, text.Stderr);
        var worst = perClass.MinBy(c => (c.GetProperty("compressed_correct").GetInt32() - c.GetProperty("original_correct").GetInt32()) / (double)c.GetProperty("images").GetInt32());
        if (worst.GetProperty("compressed_correct").GetInt32() < worst.GetProperty("original_correct").GetInt32())
            Assert.Matches($@"Worst class  {worst.GetProperty("class").GetInt32()} [^:]+: \d+\.\d\d% -> \d+\.\d\d% \({worst.GetProperty("images").GetInt32()} images\)", text.Stdout);
        else Assert.DoesNotContain("Worst class", text.Stdout); // no class lost: none is named as the worst
    }
}

using ModelBuildTasks.Compression;
using ScottPlot;

namespace ModelBuildTasks.Reporting;

/// <summary>The report's charts, each rendered by ScottPlot to an SVG document.</summary>
public static class Charts
{
    const int Width = 760, Height = 420;

    static readonly Dictionary<string, Color> StageColors = new()
    {
        ["iq"] = Colors.SteelBlue, ["ns"] = Colors.DarkOrange, ["dc"] = Colors.SeaGreen,
        ["grid"] = Colors.Gray, ["fixed"] = Colors.SteelBlue, ["final"] = Colors.Purple, ["calibration"] = Colors.Brown,
    };

    /// <summary>Accuracy against size for every evaluated candidate, the chosen one ringed, the target as a line.</summary>
    public static string SearchPath(CompressionReport report)
    {
        var plot = new Plot();
        foreach (var stage in report.Candidates.GroupBy(c => c.Stage))
        {
            var points = stage.ToList();
            var scatter = plot.Add.ScatterPoints(points.Select(c => c.Bytes / 1024.0).ToArray(), points.Select(c => c.Accuracy * 100).ToArray());
            scatter.Color = StageColors.GetValueOrDefault(stage.Key, Colors.Black);
            scatter.MarkerSize = 7;
            scatter.LegendText = stage.Key.Length > 0 ? stage.Key : "candidate";
        }
        if (report.Search == "margin" && report.Candidates.Count > 1)
        {
            var path = plot.Add.ScatterLine(report.Candidates.Select(c => c.Bytes / 1024.0).ToArray(), report.Candidates.Select(c => c.Accuracy * 100).ToArray());
            path.Color = Colors.Black.WithAlpha(0.25);
            path.LinePattern = LinePattern.Dotted;
        }
        if (report.Candidates.FirstOrDefault(c => c.Chosen) is { } chosen)
        {
            var ring = plot.Add.ScatterPoints(new[] { chosen.Bytes / 1024.0 }, new[] { chosen.Accuracy * 100 });
            ring.MarkerShape = MarkerShape.OpenCircle;
            ring.MarkerSize = 18;
            ring.MarkerLineWidth = 2;
            ring.Color = Colors.Red;
            ring.LegendText = "chosen";
        }
        var target = plot.Add.HorizontalLine(report.TargetAccuracy * 100);
        target.Color = Colors.Red;
        target.LinePattern = LinePattern.Dashed;
        target.LegendText = "target";
        var baseline = plot.Add.HorizontalLine(report.BaselineAccuracy * 100);
        baseline.Color = Colors.Gray;
        baseline.LegendText = "original";
        plot.Title($"Search path ({report.Search}, {report.Evaluations} evaluations)");
        plot.XLabel("container size (KiB)");
        plot.YLabel("validation accuracy (%)");
        plot.ShowLegend(Alignment.LowerRight);
        return plot.GetSvgXml(Width, Height);
    }

    /// <summary>Bytes of each weight tensor before (fp32) and after (as stored).</summary>
    public static string BytesPerLayer(CompressionReport report) =>
        PairedBars(report.Layers.Select(l => (l.Layer, l.OriginalBytes / 1024.0, l.CompressedBytes / 1024.0)).ToList(),
            "Bytes per layer", "KiB", "original (fp32)", "compressed");

    /// <summary>Channels each layer kept after network slimming, against what it had.</summary>
    public static string ChannelsPerLayer(CompressionReport report) =>
        PairedBars(report.Channels.Select(c => (c.Layer, (double)c.Of, (double)c.Kept)).ToList(),
            "Channels kept per layer", "channels", "before", "kept");

    static string PairedBars(IReadOnlyList<(string Name, double Before, double After)> rows, string title, string unit, string beforeLabel, string afterLabel)
    {
        var plot = new Plot();
        var before = new List<Bar>();
        var after = new List<Bar>();
        for (var i = 0; i < rows.Count; i++)
        {
            before.Add(new Bar { Position = i * 3, Value = rows[i].Before, FillColor = Colors.LightSteelBlue });
            after.Add(new Bar { Position = i * 3 + 1, Value = rows[i].After, FillColor = Colors.SteelBlue });
        }
        plot.Add.Bars(before).LegendText = beforeLabel;
        plot.Add.Bars(after).LegendText = afterLabel;
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            rows.Select((_, i) => i * 3 + 0.5).ToArray(), rows.Select(r => Short(r.Name)).ToArray());
        plot.Axes.Bottom.TickLabelStyle.Rotation = 45;
        plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleLeft;
        plot.Axes.Margins(bottom: 0);
        plot.Title(title);
        plot.YLabel(unit);
        plot.ShowLegend(Alignment.UpperRight);
        return plot.GetSvgXml(Width, Height + 80);
    }

    static string Short(string name) => name.Length <= 24 ? name : "…" + name[^23..];
}

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
        plot.YLabel($"validation {report.Measure} (%)");
        plot.ShowLegend(Alignment.LowerRight);
        return plot.GetSvgXml(Width, Height);
    }

    /// <summary>Bytes of each weight tensor before (fp32) and after (as stored), each named with its bits.</summary>
    public static string BytesPerLayer(CompressionReport report) =>
        PairedBars(report.Layers.Select(l => (LayerLabel(l), l.OriginalBytes / 1024.0, l.CompressedBytes / 1024.0)).ToList(),
            "Bytes per layer", "KiB", "original (fp32)", "compressed");

    /// <summary>A layer's row name in the bytes chart: its (shortened) weight name and, when quantized, its bits.</summary>
    public static string LayerLabel(LayerBytes layer) => layer.Bits is { } bits ? $"{Short(layer.Layer)} ({bits} bits)" : Short(layer.Layer);

    /// <summary>Channels each layer kept after network slimming, against what it had.</summary>
    public static string ChannelsPerLayer(CompressionReport report) =>
        PairedBars(report.Channels.Select(c => (Short(c.Layer), (double)c.Of, (double)c.Kept)).ToList(),
            "Channels kept per layer", "channels", "before", "kept");

    // Horizontal bars, one row per layer, so every name is written out level on the left axis (rotated
    // names under vertical bars were clipped at the page's edge). The legend sits below the data area,
    // where it cannot cover a bar, and the chart grows with the number of layers.
    static string PairedBars(IReadOnlyList<(string Name, double Before, double After)> rows, string title, string unit, string beforeLabel, string afterLabel)
    {
        var plot = new Plot();
        var before = new List<Bar>();
        var after = new List<Bar>();
        // The first row at the top, as a table reads: position 0 is drawn lowest, so rows count down.
        double Row(int i) => (rows.Count - 1 - i) * 3;
        for (var i = 0; i < rows.Count; i++)
        {
            before.Add(new Bar { Position = Row(i) + 0.5, Value = rows[i].Before, FillColor = Colors.LightSteelBlue, Orientation = Orientation.Horizontal });
            after.Add(new Bar { Position = Row(i) - 0.5, Value = rows[i].After, FillColor = Colors.SteelBlue, Orientation = Orientation.Horizontal });
        }
        var beforeBars = plot.Add.Bars(before);
        beforeBars.Horizontal = true;
        beforeBars.LegendText = beforeLabel;
        var afterBars = plot.Add.Bars(after);
        afterBars.Horizontal = true;
        afterBars.LegendText = afterLabel;
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            rows.Select((_, i) => Row(i)).ToArray(), rows.Select(r => r.Name).ToArray());
        plot.Axes.Left.MajorTickStyle.Length = 0;
        plot.Axes.Margins(left: 0, right: 0.05);
        plot.Axes.SetLimitsY(-1.5, Row(0) + 1.5);
        plot.Title(title);
        plot.XLabel(unit);
        plot.ShowLegend(Edge.Bottom);
        return plot.GetSvgXml(Width, Math.Max(Height, 120 + 26 * rows.Count));
    }

    /// <summary>
    /// A layer name that fits the axis: up to 32 characters as given, else its start and end around
    /// an ellipsis (exported names differ at the end: <c>/features/features.10/Conv</c>). Counted in text elements, so
    /// that a cut never splits an emoji's surrogate pair or a letter from its accent (the half left made the label vanish).
    /// </summary>
    public static string Short(string name)
    {
        var elements = new System.Globalization.StringInfo(name);
        if (elements.LengthInTextElements <= 32) return name;
        return elements.SubstringByTextElements(0, 12) + "…" + elements.SubstringByTextElements(elements.LengthInTextElements - 19);
    }
}

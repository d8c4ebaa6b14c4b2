using System.Globalization;
using System.Net;
using System.Text;
using ModelBuildTasks.Compression;

namespace ModelBuildTasks.Reporting;

/// <summary>
/// The compression report as one self-contained HTML page (inline CSS and SVG, no scripts, nothing
/// fetched): the headline figures, the per-stage table, the charts and every candidate.
/// </summary>
public static class HtmlReport
{
    /// <summary>The page for <paramref name="report"/>.</summary>
    public static string Render(CompressionReport report)
    {
        static string E(string s) => WebUtility.HtmlEncode(s);
        static string P(double? v) => v is { } x ? (x * 100).ToString("0.00", CultureInfo.InvariantCulture) + "%" : "n/a";
        static string N(long v) => v.ToString("N0", CultureInfo.InvariantCulture);
        var s = new StringBuilder();
        s.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Compression report: ")
            .Append(E(Path.GetFileName(report.Model))).Append("</title>\n<style>")
            .Append("body{font-family:system-ui,sans-serif;margin:2em auto;max-width:62em;color:#222}table{border-collapse:collapse;margin:1em 0}")
            .Append("td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}td:first-child,th:first-child{text-align:left}")
            .Append(".ok{color:#176d2c}.miss{color:#b00020}figure{margin:1.5em 0}figure svg{max-width:100%;height:auto}")
            // The settings line is one long token list: let it wrap anywhere rather than run off the page.
            .Append("code{white-space:pre-wrap;overflow-wrap:anywhere;word-break:break-word}.settings{max-width:100%}</style></head><body>\n");
        s.Append("<h1>Compression report: ").Append(E(Path.GetFileName(report.Model))).Append("</h1>\n");
        s.Append(report.TargetMet ? $"<p class=\"ok\">{E(report.Headline())}</p>\n" : $"<p class=\"miss\"><strong>{E(report.Headline())}</strong></p>\n");
        foreach (var warning in report.Warnings) s.Append("<p class=\"miss\">Warning ").Append(E($"{warning.Code}: {warning.Message}")).Append("</p>\n");
        s.Append("<table><tr><th></th><th>original</th><th>compressed</th></tr>\n");
        s.Append($"<tr><td>size (bytes)</td><td>{N(report.OriginalBytes)}</td><td>{N(report.CompressedBytes)} ({E(report.SizeChange)})</td></tr>\n");
        s.Append($"<tr><td>weights (original: all; compressed: nonzero)</td><td>{N(report.ParametersOriginal)}</td><td>{N(report.ParametersCompressed)}</td></tr>\n");
        var (bound, target) = TargetFigures.Shown(report.FinalAccuracyBound, report.TargetAccuracy, 4);
        s.Append($"<tr><td>validation {E(report.Measure)}</td><td>{P(report.BaselineAccuracy)}</td><td>{P(report.FinalAccuracy)}, {P(report.Confidence)} lower bound {P(bound)} (target {P(target)})</td></tr>\n");
        s.Append($"<tr><td>test {E(report.TestMeasure)}</td><td>{P(report.BaselineTestAccuracy)}</td><td>{P(report.TestAccuracy)}</td></tr>\n");
        var ratio = report.LatencySpeedup.ToString("0.00", CultureInfo.InvariantCulture);
        var speed = report.LatencySpeedup < 1
            ? $"<strong class=\"miss slower\">&#9888; {ratio}x: slower than the original</strong>"
            : $"{ratio}x faster";
        s.Append($"<tr><td>latency, median per image</td><td>{report.LatencyMsOriginal.ToString("0.000", CultureInfo.InvariantCulture)} ms</td><td>{report.LatencyMsCompressed.ToString("0.000", CultureInfo.InvariantCulture)} ms ({speed})</td></tr></table>\n");
        s.Append($"<p>Metric: {E(report.Measure)} ({E(report.MeasureReason)}). Latency: {E(report.DescribeLatency())}.</p>\n");
        s.Append("<p>Chosen: ").Append(E(string.Join(", ", report.Chosen.Select(kv => $"{kv.Key} = {kv.Value}")))).Append("<br>\n");
        s.Append($"Search: {E(report.Search)}{(report.Resolution is { } r ? $", ratio resolution {r.ToString("0.###", CultureInfo.InvariantCulture)}" : "")}, {report.Evaluations} evaluations in {report.Seconds.ToString("0.0", CultureInfo.InvariantCulture)} s");
        if (report.FineTuning is { } ft) s.Append($"; fine-tuning: {ft.Runs} runs, {ft.Seconds.ToString("0", CultureInfo.InvariantCulture)} s, {ft.Threads} threads");
        s.Append($"<br>\nSettings: <code class=\"settings\">{E(report.Settings)}</code><br>\nEngine {E(report.EngineVersion)}, cache {E(report.Cache)}</p>\n");

        if (report.Stages.Count > 0)
        {
            s.Append($"<h2>Stages</h2>\n<table><tr><th>stage</th><th>target</th><th>chosen</th><th>evaluations</th><th>{E(report.Measure)}</th><th>bound</th><th>bytes</th></tr>\n");
            foreach (var st in report.Stages)
                s.Append($"<tr><td>{E(st.Method)}</td><td>{P(st.Target)}</td><td>{E(st.Chosen)}</td><td>{st.Evaluations}</td><td>{P(st.Accuracy)}</td><td>{P(st.Bound)}</td><td>{(st.Bytes > 0 ? N(st.Bytes) : "-")}</td></tr>\n");
            s.Append("</table>\n");
        }

        s.Append("<h2>Charts</h2>\n");
        Figure(s, "search-path", () => Charts.SearchPath(report));
        if (report.Layers.Count > 0) Figure(s, "bytes-per-layer", () => Charts.BytesPerLayer(report));
        if (report.Channels.Any(c => c.Kept < c.Of)) Figure(s, "channels-per-layer", () => Charts.ChannelsPerLayer(report));

        if (report.PerClass.Count > 0)
        {
            // Worst change first: an average within budget can hide a class that lost much more.
            s.Append("<h2>Accuracy per class (validation)</h2>\n<table id=\"per-class\"><tr><th>class</th><th>images</th><th>original</th><th>compressed</th><th>change (points)</th></tr>\n");
            foreach (var c in report.PerClass.OrderBy(c => c.CompressedAccuracy - c.OriginalAccuracy).ThenBy(c => c.Class))
            {
                var change = (c.CompressedAccuracy - c.OriginalAccuracy) * 100;
                var css = change < 0 ? " class=\"miss\"" : "";
                s.Append($"<tr><td>{c.Class}{(c.Name.Length > 0 ? " " + E(c.Name) : "")}</td><td>{N(c.Images)}</td><td>{P(c.OriginalAccuracy)}</td><td>{P(c.CompressedAccuracy)}</td><td{css}>{change.ToString("+0.00;-0.00;0.00", CultureInfo.InvariantCulture)}</td></tr>\n");
            }
            s.Append("</table>\n");
        }

        s.Append($"<h2>Candidates (in order)</h2>\n<table><tr><th>#</th><th>candidate</th><th>bytes</th><th>validation {E(report.Measure)}</th><th>bound</th></tr>\n");
        var k = 0;
        foreach (var c in report.Candidates)
            s.Append($"<tr><td>{++k}</td><td>{E(c.Description)}{(c.Chosen ? " <strong>(chosen)</strong>" : "")}</td><td>{N(c.Bytes)}</td><td>{P(c.Accuracy)}</td><td>{P(c.Bound)}</td></tr>\n");
        s.Append("</table>\n</body></html>\n");
        return s.ToString();
    }

    // Charts need SkiaSharp's native library; if it cannot load, the page says so instead of failing the build.
    static void Figure(StringBuilder s, string id, Func<string> svg)
    {
        string body;
        try { body = StripXmlDeclaration(svg()); }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or BadImageFormatException)
        {
            body = $"<p>(chart not drawn: the graphics library could not be loaded: {WebUtility.HtmlEncode(e.GetBaseException().Message)})</p>";
        }
        s.Append("<figure id=\"").Append(id).Append("\">").Append(body).Append("</figure>\n");
    }

    static string StripXmlDeclaration(string svg) => svg.StartsWith("<?xml", StringComparison.Ordinal) ? svg[(svg.IndexOf("?>", StringComparison.Ordinal) + 2)..].TrimStart() : svg;
}

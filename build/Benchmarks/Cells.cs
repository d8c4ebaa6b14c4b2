using System.Globalization;
using ModelBuildTasks.Compression;

/// <summary>How the benchmark tables format their cells, so that every table reads alike.</summary>
static class Cells
{
    /// <summary>An accuracy fraction as a percentage: 0.9386 → "93.86%".</summary>
    public static string Percent(double? fraction) => ((fraction ?? 0) * 100).ToString("0.00", CultureInfo.InvariantCulture) + "%";

    /// <summary>Held-out test accuracy lost, in points: "0.60".</summary>
    public static string TestDrop(CompressionReport r) => (((r.BaselineTestAccuracy ?? 0) - (r.TestAccuracy ?? 0)) * 100).ToString("0.00", CultureInfo.InvariantCulture);

    /// <summary>A ratio: 36.18 → "36.18x".</summary>
    public static string Times(double ratio) => ratio.ToString("0.00", CultureInfo.InvariantCulture) + "x";

    /// <summary>How much faster the compressed model ran (batch 1, as the report measures it).</summary>
    public static string Speedup(CompressionReport r) => Times(r.LatencySpeedup);

    /// <summary>A number with thousands separators.</summary>
    public static string Count(long n) => n.ToString("N0", CultureInfo.InvariantCulture);
}

using System.Globalization;

namespace ModelBuildTasks.Cli;

/// <summary>Sizes (<c>2GB</c>, <c>500MB</c>) and ages (<c>30d</c>, <c>12h</c>) on the command line.</summary>
static class Sizes
{
    /// <summary>Bytes from <c>N[.N][B|KB|MB|GB|TB]</c> (binary multiples; K, M, G and T alone too).</summary>
    public static long ParseBytes(string text, string option)
    {
        var t = text.Trim().ToUpperInvariant();
        var units = new (string Suffix, long Factor)[] { ("TB", 1L << 40), ("GB", 1L << 30), ("MB", 1L << 20), ("KB", 1L << 10), ("T", 1L << 40), ("G", 1L << 30), ("M", 1L << 20), ("K", 1L << 10), ("B", 1) };
        var (suffix, factor) = units.FirstOrDefault(u => t.EndsWith(u.Suffix, StringComparison.Ordinal), ("", 1));
        if (double.TryParse(t[..^suffix.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && value >= 0 && value * factor < long.MaxValue)
            return (long)(value * factor);
        throw new ModelBuildException(ErrorCodes.InvalidSetting, $"{option} must be a size such as 500MB or 2GB, not '{text}'");
    }

    /// <summary>The longest age accepted (about 27,000 years), safely below <see cref="TimeSpan.MaxValue"/>.</summary>
    const int MaxAgeDays = 10_000_000;

    /// <summary>A duration from <c>N[d|h|m|s]</c>.</summary>
    public static TimeSpan ParseAge(string text, string option)
    {
        var t = text.Trim().ToLowerInvariant();
        if (t.Length > 1 && double.TryParse(t[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && value >= 0)
        {
            var seconds = t[^1] switch { 'd' => 86400.0, 'h' => 3600.0, 'm' => 60.0, 's' => 1.0, _ => double.NaN } * value;
            // TimeSpan throws beyond about 29,000 years (and for infinity): a usage error, not an internal one.
            if (seconds <= MaxAgeDays * 86400.0) return TimeSpan.FromSeconds(seconds);
            if (!double.IsNaN(seconds))
                throw new ModelBuildException(ErrorCodes.InvalidSetting, $"{option} must be an age of at most {MaxAgeDays}d, not '{text}'");
        }
        throw new ModelBuildException(ErrorCodes.InvalidSetting, $"{option} must be an age such as 30d, 12h or 90m, not '{text}'");
    }
}

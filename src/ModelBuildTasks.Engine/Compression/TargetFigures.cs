namespace ModelBuildTasks.Compression;

/// <summary>
/// A lower bound and its target as reports print them, so that the two figures never read as the contrary of whether
/// the target was met. Rounding keeps a bound at or above its target so; a bound just below it could print the same
/// (0.9235895 against 0.92359: "92.36% (target 92.36%)", not met), so a missed target's bound is rounded down and the
/// target up, which keeps them apart.
/// </summary>
public static class TargetFigures
{
    /// <summary>The bound and the target to print with <paramref name="decimals"/> decimals (of the fraction: 4 for a percentage with 2).</summary>
    /// <param name="bound">The lower confidence bound.</param>
    /// <param name="target">The target it is held to.</param>
    /// <param name="decimals">Decimals of the fraction that will be printed.</param>
    public static (double Bound, double Target) Shown(double bound, double target, int decimals)
    {
        if (bound >= target) return (Math.Round(bound, decimals), Math.Round(target, decimals));
        var scale = Math.Pow(10, decimals);
        // Rounded to a few more decimals first: 0.92 x 10^4 is 9200.000000000002 in binary, which is not above 9200.
        return (Math.Floor(Math.Round(bound * scale, 6)) / scale, Math.Ceiling(Math.Round(target * scale, 6)) / scale);
    }
}

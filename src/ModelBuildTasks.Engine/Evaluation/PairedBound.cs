namespace ModelBuildTasks.Evaluation;

/// <summary>A candidate's score with its statistical guard.</summary>
/// <param name="Mean">The mean per-image score (accuracy, agreement or cosine); for a candidate stopped early, its estimate on every image (<see cref="PairedBound.Of"/>).</param>
/// <param name="Bound">The one-sided lower confidence bound: the baseline's mean plus the lower bound of the mean paired difference.</param>
/// <param name="StandardError">Standard error of the mean paired difference.</param>
/// <param name="P5">The 5th percentile of the per-image scores (for cosine, how the least similar images fare).</param>
public sealed record GuardedScore(double Mean, double Bound, double StandardError, double P5);

/// <summary>
/// The statistical guard on the accuracy contract. The candidate and the original are scored on the
/// same images, so the difference is measured image by image: d_i = candidate_i - baseline_i. Images
/// both get right (or wrong) cancel, which makes the paired bound far tighter than comparing two
/// accuracies. The lower bound is mean(d) - z * sd(d) / sqrt(n) (normal approximation, fine for the
/// hundreds of images validation needs), added to the baseline's mean.
/// </summary>
public static class PairedBound
{
    /// <summary>Guards <paramref name="candidate"/> against <paramref name="baseline"/> (same images, same order).</summary>
    /// <param name="candidate">The candidate's per-image scores.</param>
    /// <param name="baseline">The original's scores on the same images.</param>
    /// <param name="confidence">The bound's one-sided confidence.</param>
    /// <param name="baselineMean">The original's mean on every image, when the candidate was scored on a part of them
    /// (stopped early): the mean and the bound are then estimates for every image, from the paired difference on the
    /// part, as the decision to stop was taken (<see cref="ClearlyBelow"/>). A part easier than the whole would otherwise
    /// give a stopped candidate a bound above the threshold it was stopped against.</param>
    public static GuardedScore Of(IReadOnlyList<double> candidate, IReadOnlyList<double> baseline, double confidence, double? baselineMean = null)
    {
        if (candidate.Count != baseline.Count) throw new ArgumentException("paired scores differ in length");
        var n = candidate.Count;
        if (n == 0) return new GuardedScore(0, 0, 0, 0);
        double sum = 0, sumBase = 0;
        for (var i = 0; i < n; i++) { sum += candidate[i]; sumBase += baseline[i]; }
        var meanDiff = (sum - sumBase) / n;
        double squares = 0;
        for (var i = 0; i < n; i++) { var e = candidate[i] - baseline[i] - meanDiff; squares += e * e; }
        var se = n > 1 ? Math.Sqrt(squares / (n - 1) / n) : 0;
        var mean = baselineMean is { } all ? all + meanDiff : sum / n;
        return new GuardedScore(mean, (baselineMean ?? sumBase / n) + meanDiff - Z(confidence) * se, se, Evaluator.Percentile(candidate, 0.05));
    }

    /// <summary>
    /// How many standard errors above its measured mean a candidate stopped early would have to be to
    /// still reach its threshold: at 3, a candidate that would pass on all images is stopped less than
    /// once in 700 looks, and then only costs the search a step, never the contract.
    /// </summary>
    public const double FutilityZ = 3;

    /// <summary>
    /// True when the paired scores so far put the candidate clearly below <paramref name="threshold"/>:
    /// even its estimated accuracy (<paramref name="baselineMean"/> on all images plus the mean paired
    /// difference so far) plus <see cref="FutilityZ"/> standard errors misses it.
    /// </summary>
    public static bool ClearlyBelow(IReadOnlyList<double> candidate, IReadOnlyList<double> baseline, double baselineMean, double threshold)
    {
        var paired = Of(candidate, baseline, 0.5); // at 0.5 the bound is the mean itself
        var meanDifference = paired.Mean - baseline.Average();
        return candidate.Count > 1 && baselineMean + meanDifference + FutilityZ * paired.StandardError < threshold;
    }

    /// <summary>The standard normal quantile of <paramref name="p"/> (Acklam's rational approximation, relative error below 1.2e-9).</summary>
    public static double Z(double p)
    {
        if (p is <= 0 or >= 1 || double.IsNaN(p)) throw new ArgumentOutOfRangeException(nameof(p), p, "must be in (0, 1)");
        double[] a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00];
        double[] b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01];
        double[] c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00];
        double[] d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00];
        const double low = 0.02425;
        if (p < low)
        {
            var q = Math.Sqrt(-2 * Math.Log(p));
            return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
        }
        if (p > 1 - low) return -Z(1 - p);
        var r = p - 0.5;
        var s = r * r;
        return (((((a[0] * s + a[1]) * s + a[2]) * s + a[3]) * s + a[4]) * s + a[5]) * r / (((((b[0] * s + b[1]) * s + b[2]) * s + b[3]) * s + b[4]) * s + 1);
    }
}

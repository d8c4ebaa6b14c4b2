namespace ModelBuildTasks.Search;

/// <summary>One evaluated knob position.</summary>
/// <param name="Index">Position in the knob's values (higher compresses more).</param>
/// <param name="Margin">Measured accuracy minus the stage's target.</param>
public sealed record KnobProbe(int Index, double Margin);

/// <summary>Where a one-knob search ended.</summary>
/// <param name="Best">The most compressive position measured at or above the target, or -1 when none was.</param>
/// <param name="Probes">Every position evaluated, in order.</param>
/// <param name="BudgetSpent">True when the evaluation budget ran out before the bracket closed.</param>
public sealed record KnobResult(int Best, IReadOnlyList<KnobProbe> Probes, bool BudgetSpent);

/// <summary>
/// The margin search on one knob. The knob's values are ordered from least to most compressive and
/// accuracy is taken to fall (noisily) along them. The margin m = accuracy - target decides each
/// step:
/// <list type="bullet">
/// <item>only passes so far: step ahead by m / slope, the slope taken from the last two passing
/// references (the anchor counts); when no drop has been seen yet, double the step;</item>
/// <item>only failures so far: back off along the line from the anchor to the failure (or halve);</item>
/// <item>a pass and a failure: regula falsi inside the bracket, bisection when the same end moved
/// twice, and never closer than a quarter of the bracket to either end.</item>
/// </list>
/// Every probe lies strictly inside the bracket, so the search ends after at most as many
/// evaluations as there are values, and the result is always a measured pass.
/// </summary>
public static class KnobSearch
{
    /// <summary>Searches positions 0..<paramref name="count"/>-1.</summary>
    /// <param name="count">How many knob values.</param>
    /// <param name="margin">Accuracy minus target at a position (evaluates a candidate).</param>
    /// <param name="start">The first position to try.</param>
    /// <param name="anchor">A reference measured before the search (position, margin), for the first slope; e.g. the previous stage's result at position 0.</param>
    /// <param name="budget">At most this many evaluations.</param>
    public static KnobResult Find(int count, Func<int, double> margin, int start, (double Index, double Margin)? anchor, int budget)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        var probes = new List<KnobProbe>();
        int lo = -1, hi = count;
        double mLo = double.NaN, mHi = double.NaN;
        int lastSide = 0, sameSide = 0;
        var i = Math.Clamp(start, 0, count - 1);
        while (probes.Count < budget)
        {
            var m = margin(i);
            probes.Add(new KnobProbe(i, m));
            var side = m >= 0 ? 1 : -1;
            sameSide = side == lastSide ? sameSide + 1 : 1;
            lastSide = side;
            if (m >= 0) (lo, mLo) = (i, m);
            else (hi, mHi) = (i, m);
            if (hi - lo <= 1) return new KnobResult(lo, probes, false);
            i = Next();
        }
        return new KnobResult(lo, probes, true);

        int Next()
        {
            double x;
            if (lo >= 0 && hi < count)
                x = sameSide >= 2 ? (lo + hi) / 2.0 : lo + (hi - lo) * mLo / (mLo - mHi);
            else if (lo >= 0)
            {
                // The slope's other end: the nearest pass below lo, else the anchor.
                var reference = anchor is { } a && a.Index < lo ? a : ((double Index, double Margin)?)null;
                foreach (var p in probes)
                    if (p.Margin >= 0 && p.Index < lo && (reference is not { } r0 || p.Index > r0.Index)) reference = (p.Index, p.Margin);
                if (reference is { } r && r.Margin > mLo) x = lo + mLo * (lo - r.Index) / (r.Margin - mLo); // where the line through both reaches the target
                else x = lo + Math.Max(2, 2 * (lo - (reference?.Index ?? lo - 1))); // no drop seen: stride out
            }
            else if (anchor is { } a && a.Margin > 0 && a.Index < hi)
                x = a.Index + (hi - a.Index) * a.Margin / (a.Margin - mHi);
            else
                x = (hi - 1) / 2.0;
            // Inside a bracket, each probe cuts at least a quarter of it off: regula falsi alone creeps
            // along the flat side of a cliff-shaped curve.
            var guard = lo >= 0 && hi < count ? Math.Max(1, (hi - lo) / 4) : 1;
            return Math.Clamp((int)Math.Round(x), lo + guard, hi - guard);
        }
    }
}

namespace ModelBuildTasks.Passes.WeightSharing;

/// <summary>
/// Deep compression's weight sharing, kept on the integer quantization grid: the nonzero int8
/// values of a layer are clustered into at most <c>k</c> levels by 1-D k-means (linear
/// initialisation between the smallest and largest value, which Han et al. found best), and every
/// value is replaced by its cluster's centre rounded to an integer. Zeros (pruned weights) stay zero,
/// so the pruning mask survives; a value whose centre rounds to zero becomes zero (pruned further). Runs on a histogram of the 255 possible values: fast and deterministic.
/// </summary>
public static class GridKMeans
{
    /// <summary>Shares the nonzero values of <paramref name="values"/> in place among at most <paramref name="k"/> integer levels; returns the levels.</summary>
    public static int[] Apply(Span<sbyte> values, int k, int iterations = 30)
    {
        if (k < 1) throw new ArgumentOutOfRangeException(nameof(k));
        var histogram = new long[256];
        foreach (var v in values) if (v != 0) histogram[v + 128]++;
        var present = Enumerable.Range(-128, 256).Where(v => histogram[v + 128] > 0).ToArray();
        if (present.Length <= k) return present; // already at most k levels

        var min = present[0];
        var max = present[^1];
        var centres = Enumerable.Range(0, k).Select(i => min + (max - min) * (double)i / (k - 1)).ToArray();
        var assignment = new int[256];
        for (var iteration = 0; iteration < iterations; iteration++)
        {
            foreach (var v in present) assignment[v + 128] = Nearest(centres, v);
            var changed = false;
            for (var c = 0; c < k; c++)
            {
                double sum = 0, count = 0;
                foreach (var v in present)
                    if (assignment[v + 128] == c) { sum += (double)v * histogram[v + 128]; count += histogram[v + 128]; }
                if (count == 0) continue; // an empty cluster keeps its centre
                var centre = sum / count;
                if (Math.Abs(centre - centres[c]) > 1e-9) { centres[c] = centre; changed = true; }
            }
            if (!changed) break;
        }
        var levels = centres.Select(c => (int)Math.Round(c)).ToArray();
        var map = new sbyte[256];
        foreach (var v in present)
        {
            map[v + 128] = (sbyte)levels[Nearest(centres, v)];
        }
        for (var i = 0; i < values.Length; i++) if (values[i] != 0) values[i] = map[values[i] + 128];
        return present.Select(v => (int)map[v + 128]).Where(v => v != 0).Distinct().Order().ToArray();
    }

    static int Nearest(double[] centres, int value)
    {
        var best = 0;
        for (var c = 1; c < centres.Length; c++)
            if (Math.Abs(centres[c] - value) < Math.Abs(centres[best] - value)) best = c;
        return best;
    }
}

namespace ModelBuildTasks.Data;

/// <summary>Deterministic, seeded splits and samples of a dataset.</summary>
public static class DatasetSplit
{
    /// <summary>
    /// Splits into parts of the given fractions (the last part takes the rest). The same seed gives
    /// the same split on every machine and .NET version (our own generator, not System.Random).
    /// </summary>
    public static ImageDataset[] Split(ImageDataset data, int seed, params double[] fractions)
    {
        if (fractions.Length == 0 || fractions.Any(f => f <= 0) || fractions.Sum() > 1 + 1e-9)
            throw new ArgumentException("fractions must be positive and sum to at most 1", nameof(fractions));
        var order = Permutation(data.Count, seed);
        var parts = new ImageDataset[fractions.Length];
        var start = 0;
        for (var i = 0; i < fractions.Length; i++)
        {
            var count = i == fractions.Length - 1 && Math.Abs(fractions.Sum() - 1) < 1e-9
                ? data.Count - start
                : (int)Math.Round(fractions[i] * data.Count);
            parts[i] = data.Subset(order[start..(start + count)]);
            start += count;
        }
        return parts;
    }

    /// <summary><paramref name="count"/> images drawn without replacement by seed, in drawn order.</summary>
    public static ImageDataset Sample(ImageDataset data, int count, int seed) =>
        data.Subset(Permutation(data.Count, seed)[..Math.Min(count, data.Count)]);

    /// <summary>A seeded permutation of 0..n-1 (Fisher-Yates with SplitMix64).</summary>
    public static int[] Permutation(int n, int seed)
    {
        var order = Enumerable.Range(0, n).ToArray();
        var state = (ulong)seed;
        for (var i = n - 1; i > 0; i--)
        {
            var j = (int)(SplitMix64(ref state) % (ulong)(i + 1));
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }

    static ulong SplitMix64(ref ulong state)
    {
        var z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}

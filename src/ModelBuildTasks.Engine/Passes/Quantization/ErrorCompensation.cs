using System.Numerics.Tensors;
using ModelBuildTasks.Graph;

namespace ModelBuildTasks.Passes.Quantization;

/// <summary>
/// Post-training rounding and pruning with error compensation (Optimal Brain Compression, GPTQ,
/// SparseGPT: Frantar and Alistarh 2022-2023). A layer's output error for a weight change dW is
/// dW H dWT with H = sum x xT over its calibration inputs, so instead of rounding every weight to
/// its nearest level (and zeroing pruned weights) independently, the columns are fixed one at a
/// time and each one's error is spread over the columns not yet fixed, in the direction H says
/// hurts least: W[:, j+1..] -= (w_j - q_j) / U_jj x U[j, j+1..], where U is the upper Cholesky
/// factor of H^-1. Rows keep the per-channel symmetric grid of <see cref="WeightQuantization"/>,
/// so the result is exactly what the integer export stores. Pruned weights (zero in the model)
/// stay zero; their original values, when given, are what their error is measured from.
/// </summary>
public static class ErrorCompensation
{
    /// <summary>Added to H's diagonal, relative to its mean, so that inputs seen rarely (or never) keep it invertible.</summary>
    public const double Damping = 0.01;

    /// <summary>
    /// Rounds every weight measured in <paramref name="hessians"/> onto its layer's per-channel grid in
    /// place, compensating the rounding and pruning error.
    /// </summary>
    /// <param name="graph">The model whose Conv/Gemm/MatMul weights are rounded (pruned weights are exact zeros).</param>
    /// <param name="hessians">H blocks measured on the dense float model.</param>
    /// <param name="bitsOf">Weight bits of the layer whose weights are named.</param>
    /// <param name="dense">The weights before pruning, by name; a weight not listed was not pruned.</param>
    /// <param name="sharedLevels">DC's weight sharing (0 = none): a first pass finds each layer's levels
    /// (<see cref="WeightSharing.GridKMeans"/> on its compensated integers), a second rounds to those
    /// levels only, compensating that error too.</param>
    /// <param name="keepFloat">Weights whose layers stay float (<see cref="QuantizationOptions.KeepFloat"/>).</param>
    /// <returns>The number of weights compensated.</returns>
    public static int Apply(ModelGraph graph, LayerHessians hessians, Func<string, int> bitsOf, IReadOnlyDictionary<string, float[]>? dense = null, int sharedLevels = 0, IReadOnlySet<string>? keepFloat = null)
    {
        var done = 0;
        foreach (var node in graph.Nodes.Where(n => n.OpType is "Conv" or "Gemm" or "MatMul" && !QdqQuantizer.IsKeptFloat(n, keepFloat)))
        {
            if (WeightQuantization.OutputAxis(graph, node) is null || graph.FindInitializer(node.Input(1)) is not { } weight) continue;
            if (hessians.For(weight.Name) is not { } measured || measured.Layout.Rows * measured.Layout.Columns != weight.ElementCount) continue;
            var qmax = (1 << (bitsOf(weight.Name) - 1)) - 1;
            var values = weight.Floats;
            var original = dense is not null && dense.TryGetValue(weight.Name, out var d) && d.Length == values.Length ? d : values.ToArray();
            var pruned = new bool[values.Length];
            for (var i = 0; i < values.Length; i++) pruned[i] = values[i] == 0;
            var scales = Scales(original, pruned, measured.Layout, qmax);
            // Which weights go is chosen again as the columns are reached (SparseGPT): the layer keeps the
            // fraction magnitude pruning gave it, but loses the weights whose removal H says costs least.
            var fraction = (double)pruned.Count(p => p) / pruned.Length;
            Round(values, original, pruned, scales, measured.Layout, measured.H, Factors(hessians, weight.Name), qmax, levels: null, fraction);
            if (sharedLevels > 0)
            {
                var integers = new sbyte[values.Length];
                for (var i = 0; i < values.Length; i++) integers[i] = (sbyte)Math.Round(values[i] / scales[Row(measured.Layout, i)]);
                var levels = WeightSharing.GridKMeans.Apply(integers, sharedLevels);
                if (levels.Length < 2 * qmax) Round(values, original, pruned, scales, measured.Layout, measured.H, Factors(hessians, weight.Name), qmax, [0, .. levels], reselect: 0);
            }
            done++;
        }
        return done;
    }

    static int Row(WeightLayout layout, int index) => layout.RowMajor ? index / layout.Columns : index % layout.Rows;

    // The per-row step: the largest magnitude magnitude pruning kept, over qmax (0 for a row with nothing kept).
    static double[] Scales(float[] original, bool[] pruned, WeightLayout layout, int qmax)
    {
        var max = new double[layout.Rows];
        for (var i = 0; i < original.Length; i++)
            if (!pruned[i]) max[Row(layout, i)] = Math.Max(max[Row(layout, i)], Math.Abs(original[i]));
        return max.Select(m => m / qmax).ToArray();
    }

    // Columns whose pruning mask is chosen together: SparseGPT's block size.
    const int MaskChunk = 128;

    // `reselect` > 0: within each chunk of columns, that fraction of the weights with the smallest
    // w^2 / U_jj^2 (the output error their removal leaves after compensation) is pruned, replacing
    // the mask in `pruned`; 0 keeps the mask as given.
    static void Round(Span<float> weights, float[] original, bool[] pruned, double[] scales, WeightLayout layout, float[] h, float[]?[] factors, int qmax, int[]? levels, double reselect)
    {
        var (rows, columns, b) = (layout.Rows, layout.Columns, layout.BlockSize);
        int At(int r, int c) => layout.RowMajor ? r * columns + c : c * rows + r;
        if (levels is not null) Array.Sort(levels);

        var rowsPerGroup = rows / layout.Groups;
        var blocksPerGroup = layout.Blocks / layout.Groups;
        var block = new double[rowsPerGroup * b];
        for (var k = 0; k < layout.Blocks; k++)
        {
            var (r0, c0) = (k / blocksPerGroup * rowsPerGroup, k % blocksPerGroup * b);
            var u = Factor(factors, k, h, b);
            for (var r = 0; r < rowsPerGroup; r++)
                for (var c = 0; c < b; c++)
                    // Inputs never seen (zero H diagonal) cannot change the output: their weights go (unless H is all zero).
                    block[r * b + c] = u is null || h[(long)k * b * b + c * b + c] > 0 ? original[At(r0 + r, c0 + c)] : 0;
            // Column by column; rows are independent between the chunks whose mask is chosen together, so they run in parallel.
            var chunk = reselect > 0 ? MaskChunk : b;
            for (var start = 0; start < b; start += chunk)
            {
                var end = Math.Min(b, start + chunk);
                if (reselect > 0) SelectMask(block, b, rowsPerGroup, start, end - start, u, reselect, (r, j) => ref pruned[At(r0 + r, c0 + j)]);
                Parallel.For(0, rowsPerGroup, r =>
                {
                    var row = block.AsSpan(r * b, b);
                    var s = scales[r0 + r];
                    for (var c = start; c < end; c++)
                    {
                        var w = row[c];
                        var q = s == 0 || pruned[At(r0 + r, c0 + c)] ? 0 : Level(w / s, qmax, levels) * s;
                        row[c] = q;
                        // Nearest rounding when H could not be factored (u is null).
                        if (u is not null && c + 1 < b) TensorPrimitives.MultiplyAdd(u.AsSpan(c * b + c + 1, b - c - 1), -(w - q) / u[c * b + c], row[(c + 1)..], row[(c + 1)..]);
                    }
                });
            }
            for (var r = 0; r < rowsPerGroup; r++)
                for (var c = 0; c < b; c++) weights[At(r0 + r, c0 + c)] = (float)block[r * b + c];
        }
    }

    // The inverse factor of H block k, computed once per H and kept with it (as floats): every candidate of a search
    // rounds against the same H, and a 576-column block costs two O(n^3) passes.
    static double[]? Factor(float[]?[] factors, int k, float[] h, int b)
    {
        if (factors[k] is null)
        {
            var hb = new double[b * b];
            for (var i = 0; i < b * b; i++) hb[i] = h[(long)k * b * b + i];
            var u = InverseFactor(hb, b);
            factors[k] = u is null ? [] : u.Select(v => (float)v).ToArray();
        }
        var stored = factors[k]!;
        if (stored.Length == 0) return null;
        var factor = new double[stored.Length];
        for (var i = 0; i < stored.Length; i++) factor[i] = stored[i];
        return factor;
    }

    static float[]?[] Factors(LayerHessians hessians, string weight)
    {
        if (!hessians.Factors.TryGetValue(weight, out var factors))
            hessians.Factors[weight] = factors = new float[]?[hessians.For(weight)!.Value.Layout.Blocks];
        return factors;
    }

    delegate ref bool MaskCell(int row, int column);

    static void SelectMask(double[] block, int b, int rows, int start, int count, double[]? u, double fraction, MaskCell mask)
    {
        var saliency = new double[rows * count];
        for (var r = 0; r < rows; r++)
            for (var j = 0; j < count; j++)
            {
                var w = block[r * b + start + j];
                var d = u is null ? 1 : u[(start + j) * b + start + j];
                saliency[r * count + j] = w * w / (d * d);
            }
        var prune = (int)Math.Round(fraction * saliency.Length);
        var threshold = prune == 0 ? double.NegativeInfinity : saliency.Order().ElementAt(prune - 1);
        // Ties at the threshold are taken in order until the count is reached.
        var ties = prune - saliency.Count(v => v < threshold);
        for (var r = 0; r < rows; r++)
            for (var j = 0; j < count; j++)
            {
                var v = saliency[r * count + j];
                mask(r, start + j) = v < threshold || v == threshold && ties-- > 0;
            }
    }

    // The grid level nearest to x (in steps): any integer within +-qmax, or only the shared levels.
    static double Level(double x, int qmax, int[]? levels)
    {
        if (levels is null) return Math.Clamp(Math.Round(x), -qmax, qmax);
        var i = Array.BinarySearch(levels, (int)Math.Floor(x));
        if (i < 0) i = ~i;
        var best = levels[Math.Clamp(i, 0, levels.Length - 1)];
        if (i > 0 && Math.Abs(levels[i - 1] - x) < Math.Abs(best - x)) best = levels[i - 1];
        if (i + 1 < levels.Length && Math.Abs(levels[i + 1] - x) < Math.Abs(best - x)) best = levels[i + 1];
        return best;
    }

    /// <summary>
    /// U, upper triangular with H^-1 = UT U (row-major, n x n), from H damped; null when H stays
    /// indefinite. Inputs never seen (zero diagonal) get the mean diagonal (their weights are zeroed).
    /// </summary>
    static double[]? InverseFactor(double[] h, int n)
    {
        var mean = 0.0;
        for (var i = 0; i < n; i++) mean += h[i * n + i];
        mean /= n;
        if (mean <= 0 || !double.IsFinite(mean)) return null;
        for (var i = 0; i < n; i++)
            if (h[i * n + i] <= 0) h[i * n + i] = mean;
        for (var damping = Damping; damping <= 1; damping *= 10)
        {
            // With P the reversal, chol(P H P) = L gives H = R RT with R = P L P upper; then H^-1 = (R^-1)T R^-1, so U = R^-1.
            var a = new double[n * n];
            for (var i = 0; i < n; i++)
                for (var j = 0; j < n; j++)
                    a[(n - 1 - i) * n + n - 1 - j] = h[i * n + j] + (i == j ? damping * mean : 0);
            if (!Cholesky.FactorLower(a, n)) continue;
            var r = new double[n * n];
            for (var i = 0; i < n; i++)
                for (var j = 0; j <= i; j++)
                    r[(n - 1 - i) * n + n - 1 - j] = a[i * n + j];
            return InvertUpper(r, n);
        }
        return null;
    }

    // The inverse of an upper triangular matrix, row by row from the bottom: row i of U = -(1/R_ii) sum_k>i R_ik row k of U.
    static double[] InvertUpper(double[] r, int n)
    {
        var u = new double[n * n];
        for (var i = n - 1; i >= 0; i--)
        {
            var inverse = 1 / r[i * n + i];
            var row = u.AsSpan(i * n, n);
            for (var k = i + 1; k < n; k++)
                if (r[i * n + k] != 0) TensorPrimitives.MultiplyAdd(u.AsSpan(k * n + k, n - k), r[i * n + k], row[k..], row[k..]);
            TensorPrimitives.Multiply(row[(i + 1)..], -inverse, row[(i + 1)..]);
            row[i] = inverse;
        }
        return u;
    }
}

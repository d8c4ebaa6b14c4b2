using ModelBuildTasks.Graph;

namespace ModelBuildTasks.Passes.Slimming;

/// <summary>
/// What a consumer (a Conv, or a Gemm/MatMul on flattened channels) keeps of the channels slimming
/// removes from its input, without fine-tuning. Each removed channel r is regressed on the kept
/// ones over the calibration images, x_r ~ mean_r + sum_k A[k, r] (x_k - mean_k) with
/// A = Cov_KK^-1 Cov_KR (the least-squares channel reconstruction of He et al. 2017, and OBS's
/// compensation with the channel covariance as H). Then the consumer reads x_k with its weight plus
/// sum_r A[k, r] x (the weight on x_r), and its bias takes over the constant part. With too few
/// samples to estimate the covariance, only the means are handed over.
/// </summary>
internal static class ConsumerCompensation
{
    // Samples per regressor below which the covariance is too rough to regress on.
    const int MinSamplesPerChannel = 4;
    // Ridge, relative to the mean kept variance: keeps A finite when kept channels are (near) collinear or constant.
    const double Ridge = 1e-3;

    /// <summary>
    /// Updates the weight (and the bias, added when there is none) of <paramref name="node"/> for the
    /// loss of the input channels not in <paramref name="keptChannels"/>; the weight is not sliced here.
    /// </summary>
    /// <param name="graph">The graph holding the node.</param>
    /// <param name="node">The consumer.</param>
    /// <param name="inputAxis">The weight's input axis (Conv [O, I, k...] and Gemm transB: 1; Gemm and MatMul [I, O]: 0).</param>
    /// <param name="keptChannels">The input channel positions kept, ascending.</param>
    /// <param name="moments">The input channels' moments (of the 4-D tensor before a flatten).</param>
    /// <param name="biasScale">The product's scale over the bias's (Gemm: alpha / beta; Conv: 1), or null when the node has no bias to take
    /// the constant part (MatMul).</param>
    public static void Apply(ModelGraph graph, Node node, int inputAxis, int[] keptChannels, ChannelMoments moments, double? biasScale)
    {
        var weight = graph.FindInitializer(node.Input(1))!;
        var outputAxis = 1 - Math.Min(inputAxis, 1);
        var outputs = (int)weight.Dims[outputAxis];
        var inputs = (int)weight.Dims[inputAxis];
        var channels = moments.Channels;
        if (weight.Type != ElementType.Float || inputs % channels != 0) return;
        var block = inputs / channels; // features per channel once flattened (1 for a Conv)
        var kernel = (int)(weight.ElementCount / outputs / inputs);
        var isKept = new bool[channels];
        foreach (var k in keptChannels) isKept[k] = true;
        var removed = Enumerable.Range(0, channels).Where(c => !isKept[c]).ToArray();
        if (removed.Length == 0) return;

        var a = Regression(moments, keptChannels, removed); // [kept, removed], or null
        var w = weight.Floats.ToArray();
        int At(int o, int c, int position) => outputAxis == 0 // position: block offset x kernel + kernel offset
            ? (o * inputs + c * block + position / kernel) * kernel + position % kernel
            : (c * block + position) * outputs + o;

        var delta = new double[outputs];
        var positions = block * kernel;
        var constant = new double[removed.Length]; // mean_r - sum_k A[k, r] mean_k
        for (var r = 0; r < removed.Length; r++)
        {
            constant[r] = moments.Mean[removed[r]];
            if (a is not null)
                for (var k = 0; k < keptChannels.Length; k++) constant[r] -= a[k * removed.Length + r] * moments.Mean[keptChannels[k]];
        }
        Parallel.For(0, outputs, o =>
        {
            var onRemoved = new double[removed.Length];
            for (var p = 0; p < positions; p++)
            {
                for (var r = 0; r < removed.Length; r++)
                {
                    onRemoved[r] = w[At(o, removed[r], p)];
                    delta[o] += constant[r] * onRemoved[r];
                }
                if (a is null) continue;
                for (var k = 0; k < keptChannels.Length; k++)
                {
                    var sum = 0.0;
                    for (var r = 0; r < removed.Length; r++) sum += a[k * removed.Length + r] * onRemoved[r];
                    w[At(o, keptChannels[k], p)] += (float)sum;
                }
            }
        });
        var updated = Tensor.FromFloats(weight.Name, weight.Dims, w);
        NetworkSlimming.Replace(graph, node, 1, updated);
        if (biasScale is { } scale) AddToBias(graph, node, outputs, delta.Select(d => d * scale).ToArray());
    }

    // A = (Cov_KK + ridge)^-1 Cov_KR, [kept, removed] row-major; null when the samples are too few or the system is singular.
    static double[]? Regression(ChannelMoments moments, int[] kept, int[] removed)
    {
        var n = kept.Length;
        if (n == 0 || moments.Samples < (long)MinSamplesPerChannel * n) return null;
        var c = moments.Channels;
        var cov = moments.Covariance;
        var system = new double[n * n];
        var trace = 0.0;
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < n; j++) system[i * n + j] = cov[kept[i] * c + kept[j]];
            trace += system[i * n + i];
        }
        if (!(trace > 0)) return null;
        for (var i = 0; i < n; i++) system[i * n + i] += Ridge * trace / n;
        if (!Cholesky.FactorLower(system, n)) return null;
        var a = new double[n * removed.Length];
        var column = new double[n];
        for (var r = 0; r < removed.Length; r++)
        {
            for (var k = 0; k < n; k++) column[k] = cov[kept[k] * c + removed[r]];
            Cholesky.Solve(system, n, column);
            for (var k = 0; k < n; k++) a[k * removed.Length + r] = column[k];
        }
        return a;
    }

    static void AddToBias(ModelGraph graph, Node node, int outputs, double[] delta)
    {
        if (graph.FindInitializer(node.Input(2)) is { } bias)
        {
            if (bias.Type != ElementType.Float || bias.ElementCount != outputs) return; // a broadcast bias cannot take per-output terms
            var updated = Tensor.FromFloats(bias.Name, bias.Dims, bias.Floats);
            for (var o = 0; o < outputs; o++) updated.Floats[o] += (float)delta[o];
            NetworkSlimming.Replace(graph, node, 2, updated);
        }
        else
        {
            var name = graph.AddInitializer(Tensor.FromFloats(graph.UniqueName(node.Name + "_slim_bias"), [outputs], delta.Select(d => (float)d).ToArray()));
            while (node.Inputs.Count < 2) node.Inputs.Add("");
            if (node.Inputs.Count == 2) node.Inputs.Add(name); else node.Inputs[2] = name;
        }
    }
}

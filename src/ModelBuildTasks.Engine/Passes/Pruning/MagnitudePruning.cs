using ModelBuildTasks.Graph;

namespace ModelBuildTasks.Passes.Pruning;

/// <summary>Where the magnitude threshold of deep compression's pruning is taken.</summary>
public enum PruningScope
{
    /// <summary>The same fraction of every layer's weights.</summary>
    PerLayer,
    /// <summary>One threshold over all layers' weights, on their layer-adaptive (LAMP) scores: large layers lose more, no layer loses all.</summary>
    Global,
}

/// <summary>
/// Deep compression's unstructured pruning (Han et al.): the weights of Conv, Gemm and MatMul with
/// the smallest magnitudes become zero. Biases and BatchNorm parameters are never pruned. Returns the
/// 0/1 masks so that fine-tuning can keep pruned weights at zero.
/// </summary>
public static class MagnitudePruning
{
    /// <summary>Prunes <paramref name="ratio"/> of the prunable weights in place; returns the masks by initializer name.</summary>
    public static Dictionary<string, float[]> Apply(ModelGraph graph, double ratio, PruningScope scope = PruningScope.PerLayer)
    {
        if (ratio is < 0 or >= 1) throw new ModelBuildException(ErrorCodes.InvalidSetting, $"the pruning ratio must be in [0, 1), not {ratio}");
        var weights = PrunableWeights(graph).ToList();
        var masks = new Dictionary<string, float[]>(StringComparer.Ordinal);
        if (ratio == 0) return masks;
        // Global: one threshold over every weight's LAMP score; per layer: each layer's own magnitude threshold.
        var scores = weights.Select(w => scope == PruningScope.Global ? LampScores(w.Floats) : Magnitudes(w.Floats)).ToList();
        float? globalThreshold = scope == PruningScope.Global ? Threshold(scores.SelectMany(s => s).ToArray(), ratio) : null;
        for (var t = 0; t < weights.Count; t++)
        {
            var values = weights[t].Floats;
            var score = scores[t];
            var threshold = globalThreshold ?? Threshold(score, ratio);
            var mask = new float[values.Length];
            for (var i = 0; i < values.Length; i++)
            {
                mask[i] = score[i] > threshold ? 1f : 0f;
                values[i] *= mask[i];
            }
            masks[weights[t].Name] = mask;
        }
        return masks;
    }

    /// <summary>
    /// Layer-adaptive magnitude scores (LAMP, Lee et al., ICLR 2021): a weight's square over the sum
    /// of the squares of the weights of its layer at least as large. Comparable across layers of any
    /// scale: raw magnitudes under one threshold wipe out a layer whose weights are all small (a
    /// classifier head on large features), while each layer's largest weight scores 1 and stays.
    /// </summary>
    public static float[] LampScores(ReadOnlySpan<float> values)
    {
        var squares = new float[values.Length];
        System.Numerics.Tensors.TensorPrimitives.Multiply(values, values, squares);
        var order = Enumerable.Range(0, values.Length).ToArray();
        Array.Sort(squares.ToArray(), order);
        var scores = new float[values.Length];
        var suffix = 0.0;
        for (var k = order.Length - 1; k >= 0; k--)
        {
            var square = squares[order[k]];
            suffix += square;
            scores[order[k]] = suffix > 0 ? (float)(square / suffix) : 0f;
        }
        return scores;
    }

    static float[] Magnitudes(ReadOnlySpan<float> values)
    {
        var magnitudes = new float[values.Length];
        System.Numerics.Tensors.TensorPrimitives.Abs(values, magnitudes);
        return magnitudes;
    }

    /// <summary>
    /// Prunes <paramref name="model"/> in place as if its BatchNorms were folded: a weight's
    /// magnitude is taken after folding (scaled by its channel's gamma / sigma), which is the weight
    /// the deployed model multiplies by, while the BatchNorms stay for network slimming and training.
    /// </summary>
    public static void ApplyAsFolded(OnnxModel model, double ratio, PruningScope scope = PruningScope.PerLayer)
    {
        if (ratio == 0) return;
        var folded = OnnxImport.ToModel(OnnxExport.ToProto(model));
        OpsetUpgrade.Apply(folded);
        BatchNormFolding.Apply(folded.Graph);
        var masks = Apply(folded.Graph, ratio, scope);
        foreach (var tensor in PrunableWeights(model.Graph))
        {
            // Folding keeps a weight's name when the weight is used once, so the mask of the same name applies.
            if (!masks.TryGetValue(tensor.Name, out var mask) || mask.Length != tensor.ElementCount) continue;
            var values = tensor.Floats;
            for (var i = 0; i < values.Length; i++) values[i] *= mask[i];
        }
    }

    /// <summary>The weight tensors deep compression may prune: input 1 of Conv, Gemm and MatMul, when constant.</summary>
    public static IEnumerable<Tensor> PrunableWeights(ModelGraph graph) =>
        graph.Nodes.Where(n => n.OpType is "Conv" or "Gemm" or "MatMul")
            .Select(n => graph.FindInitializer(n.Input(1)))
            .OfType<Tensor>()
            .Where(t => t.Type == ElementType.Float)
            .DistinctBy(t => t.Name);

    // The score below which (inclusive) `ratio` of the scores fall.
    static float Threshold(ReadOnlySpan<float> scores, double ratio)
    {
        var sorted = scores.ToArray();
        Array.Sort(sorted);
        var index = (int)Math.Floor(ratio * sorted.Length) - 1;
        return index < 0 ? -1f : sorted[index];
    }
}

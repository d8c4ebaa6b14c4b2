using ModelBuildTasks.Graph;

namespace ModelBuildTasks.Passes.Pruning;

/// <summary>Where the magnitude threshold of deep compression's pruning is taken.</summary>
public enum PruningScope
{
    /// <summary>The same fraction of every layer's weights.</summary>
    PerLayer,
    /// <summary>One threshold over all layers' weights (layers with small weights lose more).</summary>
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
        float? globalThreshold = scope == PruningScope.Global
            ? Threshold(weights.SelectMany(w => w.Floats.ToArray()).ToArray(), ratio)
            : null;
        foreach (var tensor in weights)
        {
            var values = tensor.Floats;
            var threshold = globalThreshold ?? Threshold(values, ratio);
            var mask = new float[values.Length];
            for (var i = 0; i < values.Length; i++)
            {
                mask[i] = Math.Abs(values[i]) > threshold ? 1f : 0f;
                values[i] *= mask[i];
            }
            masks[tensor.Name] = mask;
        }
        return masks;
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

    // The magnitude below which (inclusive) `ratio` of the values fall.
    static float Threshold(ReadOnlySpan<float> values, double ratio)
    {
        var magnitudes = new float[values.Length];
        System.Numerics.Tensors.TensorPrimitives.Abs(values, magnitudes);
        Array.Sort(magnitudes);
        var index = (int)Math.Floor(ratio * magnitudes.Length) - 1;
        return index < 0 ? -1f : magnitudes[index];
    }
}

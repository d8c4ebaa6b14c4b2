using ModelBuildTasks.Graph;

namespace ModelBuildTasks.Passes;

/// <summary>
/// Folds each BatchNormalization that directly follows a Conv into the Conv's weights and bias:
/// W' = W * g / sqrt(v + e) per output channel, b' = (b - m) * g / sqrt(v + e) + beta.
/// Network slimming needs the BatchNorm scales, so this is a separate, explicit step run before
/// inference, never implicitly when loading a model.
/// </summary>
public static class BatchNormFolding
{
    /// <summary>Folds in place every Conv + BatchNormalization pair it can; returns how many it folded.</summary>
    /// <remarks>A pair is folded when the Conv's output feeds only the BatchNormalization, is not a graph output,
    /// and all weights and statistics are constant.</remarks>
    public static int Apply(ModelGraph graph)
    {
        var folded = 0;
        foreach (var bn in graph.Nodes.Where(n => n.OpType == "BatchNormalization").ToList())
        {
            if (TryFold(graph, bn)) folded++;
        }
        return folded;
    }

    static bool TryFold(ModelGraph graph, Node bn)
    {
        var conv = graph.Producer(bn.Inputs[0]);
        if (conv is null || conv.OpType != "Conv" || graph.IsOutput(conv.Outputs[0])) return false;
        if (graph.Consumers(conv.Outputs[0]).Count() != 1) return false;
        var weights = graph.FindInitializer(conv.Input(1));
        var bias = graph.FindInitializer(conv.Input(2));
        if (weights is null || weights.Type != ElementType.Float || (conv.Input(2) is not null && bias is null)) return false;
        var channels = (int)weights.Dims[0];
        if (Statistics(graph, bn, channels) is not ({ } factors, { } mean, { } shift)) return false;

        var perChannel = (int)(weights.ElementCount / channels);
        var newWeights = weights.Data.ToArray();
        var w = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(newWeights.AsSpan());
        var newBias = new float[channels];
        for (var c = 0; c < channels; c++)
        {
            for (var k = 0; k < perChannel; k++) w[c * perChannel + k] *= factors[c];
            var b = bias is null ? 0f : bias.Floats[c];
            newBias[c] = (b - mean[c]) * factors[c] + shift[c];
        }

        // Weights shared with another node keep their old tensor; this Conv gets fresh ones.
        var weightName = graph.Nodes.Count(n => n.Inputs.Contains(weights.Name)) == 1 ? weights.Name : graph.UniqueName(weights.Name + "_bnfolded");
        graph.Initializers[weightName] = new Tensor(weightName, ElementType.Float, weights.Dims, newWeights);
        var biasName = bias is not null && graph.Nodes.Count(n => n.Inputs.Contains(bias.Name)) == 1 ? bias.Name : graph.UniqueName(conv.Name + "_bias_bnfolded");
        graph.Initializers[biasName] = Tensor.FromFloats(biasName, [channels], newBias);
        conv.Inputs[1] = weightName;
        if (conv.Inputs.Count < 3) conv.Inputs.Add(biasName); else conv.Inputs[2] = biasName;

        // The Conv now produces the BatchNorm's output directly.
        graph.ValueInfos.Remove(conv.Outputs[0]);
        conv.Outputs[0] = bn.Outputs[0];
        graph.Nodes.Remove(bn);
        RemoveUnusedStatistics(graph, bn);
        return true;
    }

    /// <summary>
    /// An inference-mode BatchNorm's per-channel factor g / sqrt(v + e), mean and shift (y = (x - mean) factor + shift),
    /// or null when it has extra (training) outputs or its statistics are not <paramref name="channels"/> constant floats.
    /// </summary>
    internal static (float[] Factors, float[] Mean, float[] Shift)? Statistics(ModelGraph graph, Node bn, int channels)
    {
        if (bn.Outputs.Count(o => o.Length > 0) != 1) return null; // training-mode BN with extra outputs
        var inputs = Enumerable.Range(1, 4).Select(i => graph.FindInitializer(bn.Input(i))).ToArray();
        if (inputs.Any(t => t is null || t.Type != ElementType.Float || t.ElementCount != channels)) return null;
        var (scale, variance) = (inputs[0]!.Floats.ToArray(), inputs[3]!.Floats.ToArray());
        var epsilon = bn.GetFloat("epsilon", 1e-5f);
        var factors = new float[channels];
        for (var c = 0; c < channels; c++) factors[c] = scale[c] / MathF.Sqrt(variance[c] + epsilon);
        return (factors, inputs[2]!.Floats.ToArray(), inputs[1]!.Floats.ToArray());
    }

    /// <summary>Removes a replaced BatchNorm's statistics that no node reads any more.</summary>
    internal static void RemoveUnusedStatistics(ModelGraph graph, Node bn)
    {
        foreach (var name in bn.Inputs.Skip(1))
            if (!graph.Nodes.Any(n => n.Inputs.Contains(name))) graph.Initializers.Remove(name);
    }
}

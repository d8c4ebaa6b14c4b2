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
        if (bn.Outputs.Count(o => o.Length > 0) != 1) return false; // training-mode BN with extra outputs
        var conv = graph.Producer(bn.Inputs[0]);
        if (conv is null || conv.OpType != "Conv" || graph.IsOutput(conv.Outputs[0])) return false;
        if (graph.Consumers(conv.Outputs[0]).Count() != 1) return false;
        var weights = graph.FindInitializer(conv.Input(1));
        var bias = graph.FindInitializer(conv.Input(2));
        var scale = graph.FindInitializer(bn.Input(1));
        var shift = graph.FindInitializer(bn.Input(2));
        var mean = graph.FindInitializer(bn.Input(3));
        var variance = graph.FindInitializer(bn.Input(4));
        if (weights is null || scale is null || shift is null || mean is null || variance is null) return false;
        if (weights.Type != ElementType.Float || (conv.Input(2) is not null && bias is null)) return false;

        var channels = (int)weights.Dims[0];
        var perChannel = (int)(weights.ElementCount / channels);
        var epsilon = bn.GetFloat("epsilon", 1e-5f);
        var newWeights = weights.Data.ToArray();
        var w = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(newWeights.AsSpan());
        var newBias = new float[channels];
        for (var c = 0; c < channels; c++)
        {
            var factor = scale.Floats[c] / MathF.Sqrt(variance.Floats[c] + epsilon);
            for (var k = 0; k < perChannel; k++) w[c * perChannel + k] *= factor;
            var b = bias is null ? 0f : bias.Floats[c];
            newBias[c] = (b - mean.Floats[c]) * factor + shift.Floats[c];
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
        foreach (var name in bn.Inputs.Skip(1))
        {
            if (!graph.Nodes.Any(n => n.Inputs.Contains(name))) graph.Initializers.Remove(name);
        }
        return true;
    }
}

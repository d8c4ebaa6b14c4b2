using ModelBuildTasks.Graph;

namespace ModelBuildTasks.Passes.Quantization;

/// <summary>Symmetric per-channel weight quantization: q = clamp(round(w / s), -qmax, qmax), s = max|w| / qmax.</summary>
public static class WeightQuantization
{
    /// <summary>Quantizes <paramref name="weights"/> (shape <paramref name="dims"/>) per slice along <paramref name="axis"/>.</summary>
    /// <returns>The int8 values (within +-(2^(bits-1) - 1)) and one scale per channel.</returns>
    public static (sbyte[] Values, float[] Scales) PerChannel(ReadOnlySpan<float> weights, long[] dims, int axis, int bits)
    {
        var qmax = (1 << (bits - 1)) - 1;
        var channels = (int)dims[axis];
        var inner = (int)dims.Skip(axis + 1).Aggregate(1L, (a, b) => a * b);
        var scales = new float[channels];
        for (var i = 0; i < weights.Length; i++)
        {
            var c = i / inner % channels;
            scales[c] = Math.Max(scales[c], Math.Abs(weights[i]));
        }
        for (var c = 0; c < channels; c++) scales[c] = scales[c] > 0 ? scales[c] / qmax : 1f;
        var values = new sbyte[weights.Length];
        for (var i = 0; i < weights.Length; i++)
        {
            var c = i / inner % channels;
            values[i] = (sbyte)Math.Clamp(MathF.Round(weights[i] / scales[c]), -qmax, qmax);
        }
        return (values, scales);
    }

    /// <summary>
    /// The output-channel axis of <paramref name="node"/>'s weight (input 1) when it can be quantized
    /// per channel: 0 for Conv and for Gemm with transB, else the last axis; null for a Gemm with
    /// transA, alpha or beta, or a weight that is not a float initializer used once.
    /// </summary>
    public static int? OutputAxis(ModelGraph graph, Node node)
    {
        if (node.OpType is not ("Conv" or "Gemm" or "MatMul")) return null;
        var weights = graph.FindInitializer(node.Input(1));
        if (weights is not { Type: ElementType.Float } || graph.Nodes.Count(n => n.Inputs.Contains(weights.Name)) != 1) return null;
        if (node.OpType == "Gemm" && (node.GetInt("transA", 0) != 0 || node.GetFloat("alpha", 1) != 1 || node.GetFloat("beta", 1) != 1)) return null;
        return node.OpType == "Conv" || node.OpType == "Gemm" && node.GetInt("transB", 0) == 1 ? 0 : weights.Dims.Length - 1;
    }
}

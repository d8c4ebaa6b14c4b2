using ModelBuildTasks.Graph;

namespace ModelBuildTasks.Passes.Quantization;

/// <summary>
/// Symmetric per-channel weight quantization: q = clamp(round(w / s), -qmax, qmax), s = max|w| / qmax,
/// unless the channel already lies on a coarser grid (IQ ran before a step that removed the
/// channel's largest weight, or BatchNorm folding scaled it): then that grid's step is kept, so
/// quantizing again recovers the same integers instead of rounding twice.
/// </summary>
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
        for (var c = 0; c < channels; c++) scales[c] = scales[c] > 0 ? GridStep(weights, c, channels, inner, scales[c], qmax) : 1f;
        var values = new sbyte[weights.Length];
        for (var i = 0; i < weights.Length; i++)
        {
            var c = i / inner % channels;
            values[i] = (sbyte)Math.Clamp(MathF.Round(weights[i] / scales[c]), -qmax, qmax);
        }
        return (values, scales);
    }

    // The largest k <= qmax such that every weight of channel c is a multiple of max / k; max / qmax when none is.
    static float GridStep(ReadOnlySpan<float> weights, int c, int channels, int inner, float max, int qmax)
    {
        for (var k = qmax; k >= 1; k--)
        {
            var step = max / k;
            var onGrid = true;
            for (var i = c * inner; onGrid && i < weights.Length; i += channels * inner)
                for (var j = i; j < i + inner; j++)
                {
                    var units = weights[j] / step;
                    if (Math.Abs(units - MathF.Round(units)) > 1e-3f) { onGrid = false; break; }
                }
            if (onGrid) return step;
        }
        return max / qmax;
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

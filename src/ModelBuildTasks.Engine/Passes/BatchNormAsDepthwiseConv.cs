using ModelBuildTasks.Graph;

namespace ModelBuildTasks.Passes;

/// <summary>
/// Rewrites each BatchNormalization that no Conv feeds (pre-activation DenseNet's, after a Concat)
/// as the depthwise 1x1 Conv it equals: weight g / sqrt(v + e) and bias beta - m g / sqrt(v + e)
/// per channel, the weight rounded to 8 significant bits (0.2% at most: the BatchNorm's own
/// statistics are not that exact), which its scale then stores in one byte plane instead of three.
/// Quantized, ONNX Runtime runs it as a QLinearConv with the ReLU after it fused, so
/// the graph stays integer (and in one memory layout) from one convolution to the next instead of
/// converting to float, and between NHWC and NCHW, around every BatchNorm. Per-channel symmetric
/// quantization stores each channel's single weight exactly (at the grid's largest level).
/// </summary>
public static class BatchNormAsDepthwiseConv
{
    /// <summary>Rewrites in place every BatchNormalization of a 4-D tensor with constant statistics; returns how many.</summary>
    public static int Apply(ModelGraph graph)
    {
        var rewritten = 0;
        foreach (var bn in graph.Nodes.Where(n => n.OpType == "BatchNormalization").ToList())
        {
            if (!graph.ValueInfos.TryGetValue(bn.Inputs[0], out var info) || info.Shape is not { Rank: 4 } shape || !shape[1].IsKnown) continue;
            var channels = (int)shape[1].Value;
            if (BatchNormFolding.Statistics(graph, bn, channels) is not ({ } factors, { } mean, { } shift)) continue;
            var weights = new float[channels];
            var bias = new float[channels];
            for (var c = 0; c < channels; c++)
            {
                weights[c] = Short(factors[c]);
                bias[c] = shift[c] - mean[c] * weights[c];
            }
            var w = graph.AddInitializer(Tensor.FromFloats(graph.UniqueName(bn.Name + "_dw_weights"), [channels, 1, 1, 1], weights));
            var b = graph.AddInitializer(Tensor.FromFloats(graph.UniqueName(bn.Name + "_dw_bias"), [channels], bias));
            var conv = new Node(bn.Name, "Conv", [bn.Inputs[0], w, b], [bn.Outputs[0]])
                .With("kernel_shape", NodeAttribute.Of(1L, 1L))
                .With("group", NodeAttribute.Of((long)channels));
            graph.Nodes[graph.Nodes.IndexOf(bn)] = conv;
            BatchNormFolding.RemoveUnusedStatistics(graph, bn);
            rewritten++;
        }
        return rewritten;
    }

    // The nearest float with 8 significant bits (the low 16 mantissa bits zero), as bfloat16 rounds.
    static float Short(float value)
    {
        var bits = BitConverter.SingleToUInt32Bits(value);
        bits = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000;
        return BitConverter.UInt32BitsToSingle(bits);
    }
}

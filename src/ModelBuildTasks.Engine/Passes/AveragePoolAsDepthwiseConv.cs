using ModelBuildTasks.Graph;

namespace ModelBuildTasks.Passes;

/// <summary>
/// Rewrites each AveragePool whose windows tile its input (kernel equal to strides, no padding) as the depthwise
/// Conv it equals: every weight 1 / (window size), no bias. ONNX Runtime's QLinearAveragePool averages in float,
/// element by element, single-threaded: the DenseNet sample's two transition pools took 12% of its int8 time at
/// batch 64, three times what fp32 spends on them. As a depthwise QLinearConv (MLAS's symmetric kernel, which
/// <see cref="ChannelPadding"/> makes it eligible for) it costs a few percent. Equal weights sit on any
/// per-channel grid's largest level, so the quantized average is the float one, rounded once.
/// </summary>
public static class AveragePoolAsDepthwiseConv
{
    /// <summary>Rewrites in place every such AveragePool of a 4-D tensor with a known channel count; returns how many.</summary>
    /// <param name="graph">The graph.</param>
    /// <param name="keep">Pools to leave as they are (those feeding only layers kept float).</param>
    public static int Apply(ModelGraph graph, IReadOnlySet<Node>? keep = null)
    {
        var rewritten = 0;
        foreach (var pool in graph.Nodes.Where(n => n.OpType == "AveragePool" && keep?.Contains(n) != true).ToList())
        {
            if (!graph.ValueInfos.TryGetValue(pool.Inputs[0], out var info) || info.Shape is not { Rank: 4 } shape || !shape[1].IsKnown) continue;
            if (pool.GetInts("kernel_shape") is not [var kh, var kw] kernel || pool.GetInts("strides") is not { } strides || !strides.SequenceEqual(kernel)) continue;
            if (pool.GetInts("pads") is { } pads && pads.Any(p => p != 0) || pool.GetInt("ceil_mode", 0) != 0
                || pool.GetInts("dilations") is { } dilations && dilations.Any(d => d != 1)
                || pool.Attributes.TryGetValue("auto_pad", out var autoPad) && autoPad.String is not ("" or "NOTSET" or "VALID")) continue;
            var channels = (int)shape[1].Value;
            var w = graph.AddInitializer(Tensor.FromFloats(graph.UniqueName(pool.Name + "_dw_weights"), [channels, 1, kh, kw],
                Enumerable.Repeat(1f / (kh * kw), (int)(channels * kh * kw)).ToArray()));
            graph.Nodes[graph.Nodes.IndexOf(pool)] = new Node(pool.Name, "Conv", [pool.Inputs[0], w], [pool.Outputs[0]])
                .With("kernel_shape", NodeAttribute.Of(kh, kw))
                .With("strides", NodeAttribute.Of(kh, kw))
                .With("group", NodeAttribute.Of((long)channels));
            rewritten++;
        }
        return rewritten;
    }
}

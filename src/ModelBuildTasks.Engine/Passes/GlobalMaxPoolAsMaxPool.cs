using ModelBuildTasks.Graph;

namespace ModelBuildTasks.Passes;

/// <summary>
/// Rewrites each GlobalMaxPool of a 4-D tensor of known height and width as the MaxPool it equals, one window over the
/// whole image. ONNX Runtime has no integer GlobalMaxPool: its input would be dequantized, pooled in float and quantized
/// again, where its MaxPool takes the uint8 values as they are (the maximum of quantized values is the quantized maximum).
/// </summary>
public static class GlobalMaxPoolAsMaxPool
{
    /// <summary>Rewrites in place every such GlobalMaxPool; returns how many.</summary>
    /// <param name="graph">The graph, its shapes inferred.</param>
    /// <param name="keep">Pools to leave as they are (those feeding only layers kept float).</param>
    public static int Apply(ModelGraph graph, IReadOnlySet<Node>? keep = null)
    {
        var rewritten = 0;
        foreach (var pool in graph.Nodes.Where(n => n.OpType == "GlobalMaxPool" && keep?.Contains(n) != true).ToList())
        {
            if (!graph.ValueInfos.TryGetValue(pool.Inputs[0], out var info) || info.Shape is not { Rank: 4 } shape || !shape[2].IsKnown || !shape[3].IsKnown) continue;
            graph.Nodes[graph.Nodes.IndexOf(pool)] = new Node(pool.Name, "MaxPool", [pool.Inputs[0]], [pool.Outputs[0]])
                .With("kernel_shape", NodeAttribute.Of(shape[2].Value, shape[3].Value));
            rewritten++;
        }
        return rewritten;
    }
}

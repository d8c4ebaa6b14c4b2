namespace ModelBuildTasks.Graph;

/// <summary>
/// The structural rules every ONNX graph must follow, checked on load: nodes in topological order
/// (so no cycles), every input produced before it is used, every value produced once, every output
/// produced. Passes and shape inference walk the nodes in order and rely on this; a crafted graph
/// breaking it is <see cref="ErrorCodes.InvalidGraph"/>, naming the node.
/// </summary>
public static class GraphValidation
{
    /// <summary>Throws <see cref="ModelBuildException"/> (MBT1005) on the first broken rule.</summary>
    public static void Check(ModelGraph graph, string? displayPath = null)
    {
        var available = new HashSet<string>(graph.Inputs.Select(i => i.Name).Concat(graph.Initializers.Keys), StringComparer.Ordinal);
        var producedLater = new HashSet<string>(graph.Nodes.SelectMany(n => n.Outputs).Where(o => o.Length > 0), StringComparer.Ordinal);
        foreach (var node in graph.Nodes)
        {
            foreach (var input in node.Inputs)
            {
                if (input.Length == 0 || available.Contains(input)) continue;
                throw new ModelBuildException(ErrorCodes.InvalidGraph, producedLater.Contains(input)
                    ? $"node '{node.Name}' ({node.OpType}) uses '{input}' before it is computed: the graph has a cycle or its nodes are out of order"
                    : $"node '{node.Name}' ({node.OpType}) uses '{input}', which nothing produces (a dangling input)", displayPath);
            }
            foreach (var output in node.Outputs)
            {
                if (output.Length == 0) continue;
                if (!available.Add(output))
                    throw new ModelBuildException(ErrorCodes.InvalidGraph, $"node '{node.Name}' ({node.OpType}) produces '{output}', which already has a value", displayPath);
            }
        }
        foreach (var output in graph.Outputs)
            if (!available.Contains(output.Name))
                throw new ModelBuildException(ErrorCodes.InvalidGraph, $"the graph output '{output.Name}' is not produced by any node", displayPath);
    }
}

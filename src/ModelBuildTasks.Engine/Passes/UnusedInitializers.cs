using ModelBuildTasks.Graph;

namespace ModelBuildTasks.Passes;

/// <summary>
/// Removes initializers that no node reads and no output names: weights an exporter or an edit left
/// behind (a Gemm replaced by MatMul + Add kept the Gemm's 691,200 weights), which the container would
/// otherwise store as float and the report count as the model's. A graph with subgraphs (If, Loop),
/// whose nodes may read the outer graph's values, is left alone.
/// </summary>
public static class UnusedInitializers
{
    /// <summary>Removes them in place; returns how many.</summary>
    public static int Remove(ModelGraph graph)
    {
        if (graph.HasSubgraphs) return 0;
        var read = graph.Nodes.SelectMany(n => n.Inputs).Concat(graph.Outputs.Select(o => o.Name)).ToHashSet(StringComparer.Ordinal);
        var unused = graph.Initializers.Keys.Where(name => !read.Contains(name)).ToList();
        foreach (var name in unused) graph.Initializers.Remove(name);
        return unused.Count;
    }
}

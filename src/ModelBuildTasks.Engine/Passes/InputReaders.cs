using ModelBuildTasks.Graph;

namespace ModelBuildTasks.Passes;

/// <summary>
/// The one way the input conversions (<see cref="PixelInput"/>, <see cref="ChannelsFirstInput"/>) take a node that only
/// adapts the input (a Cast, a Transpose) out of the graph: found only when such nodes are all that read the input and
/// none of them is a graph output, then removed with their readers reading the input instead.
/// </summary>
static class InputReaders
{
    /// <summary>The nodes that read <paramref name="input"/>, when there are some and all are <paramref name="adapter"/>s whose output is not a graph output; else null.</summary>
    public static List<Node>? OnlyAdapters(ModelGraph graph, string input, Func<Node, bool> adapter)
    {
        var readers = graph.Consumers(input).ToList();
        return readers.Count > 0 && !graph.IsOutput(input) && readers.All(r => adapter(r) && !graph.IsOutput(r.Outputs[0])) ? readers : null;
    }

    /// <summary>Removes <paramref name="adapters"/>; what read their outputs reads <paramref name="input"/>.</summary>
    public static void Bypass(ModelGraph graph, IEnumerable<Node> adapters, string input)
    {
        foreach (var adapter in adapters)
        {
            var output = adapter.Outputs[0];
            graph.Nodes.Remove(adapter);
            graph.ValueInfos.Remove(output);
            foreach (var node in graph.Nodes)
                for (var i = 0; i < node.Inputs.Count; i++)
                    if (node.Inputs[i] == output) node.Inputs[i] = input;
        }
    }
}

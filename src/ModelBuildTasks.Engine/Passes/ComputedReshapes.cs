using ModelBuildTasks.Graph;

namespace ModelBuildTasks.Passes;

/// <summary>
/// Makes a Reshape whose target is computed from its own input's shape a Reshape to a constant. PyTorch exports
/// <c>x.view(x.size(0), -1)</c> with a dynamic batch as <c>Shape(x)</c>, <c>Gather</c> of axis 0, <c>Unsqueeze</c> and
/// a <c>Concat</c> with <c>[-1]</c>: that is <c>Reshape(x, [0, -1])</c>, where 0 copies the input's own dimension
/// (opset 5 onwards, without <c>allowzero</c>). Each part of the Concat must be a constant or the input's dimension
/// at the part's own position, so the rewrite holds for every batch size; the shape nodes left unread go.
/// </summary>
public static class ComputedReshapes
{
    /// <summary>Rewrites in place; returns how many Reshapes got a constant target.</summary>
    public static int Apply(ModelGraph graph)
    {
        var rewritten = 0;
        foreach (var reshape in graph.Nodes.Where(n => n.OpType == "Reshape" && n.Domain is "" or "ai.onnx").ToList())
        {
            if (reshape.Inputs.Count < 2 || graph.FindInitializer(reshape.Inputs[1]) is not null || reshape.GetInt("allowzero", 0) != 0) continue;
            if (Target(graph, reshape.Inputs[0], reshape.Inputs[1]) is not { } target) continue;
            reshape.Inputs[1] = graph.AddInitializer(Tensor.FromInt64s(graph.UniqueName(reshape.Name + "_shape"), [target.Length], target));
            rewritten++;
        }
        if (rewritten == 0) return 0;
        RemoveUnread(graph);
        UnusedInitializers.Remove(graph);
        return rewritten;
    }

    // The constant target `shape` computes for `data`, or null when it is not made of constants and `data`'s own
    // dimensions at their own positions.
    static long[]? Target(ModelGraph graph, string data, string shape)
    {
        if (graph.Producer(shape) is not { OpType: "Concat" } concat || concat.GetInt("axis", 0) != 0) return null;
        var target = new List<long>();
        foreach (var part in concat.Inputs)
        {
            if (graph.FindInitializer(part) is { Type: ElementType.Int64, Dims.Length: 1 } constant) target.AddRange(constant.ToInt64s());
            else if (CopiedAxis(graph, part, data) is { } axis && axis == target.Count) target.Add(0);
            else return null;
        }
        return [.. target];
    }

    // The axis of `data` whose size `part` holds as a one-element vector: Unsqueeze(axes [0]) of Gather(Shape(data), scalar
    // axis), or Gather(Shape(data), [axis]).
    static long? CopiedAxis(ModelGraph graph, string part, string data)
    {
        var producer = graph.Producer(part);
        var scalar = false;
        if (producer is { OpType: "Unsqueeze" })
        {
            var axes = producer.GetInts("axes") ?? graph.FindInitializer(producer.Input(1))?.ToInt64s();
            if (axes is not [0]) return null;
            producer = graph.Producer(producer.Inputs[0]);
            scalar = true;
        }
        if (producer is not { OpType: "Gather" } gather || gather.GetInt("axis", 0) != 0
            || graph.FindInitializer(gather.Input(1)) is not { Type: ElementType.Int64 } index || index.Dims.Length != (scalar ? 0 : 1) || index.ElementCount != 1) return null;
        // Shape's start and end (opset 15) would shift the axes: only the whole shape is taken.
        if (graph.Producer(gather.Inputs[0]) is not { OpType: "Shape" } shapeOf || shapeOf.Inputs[0] != data || shapeOf.Attributes.Count > 0) return null;
        var axis = index.ToInt64s()[0];
        return axis >= 0 ? axis : null;
    }

    // Shape arithmetic nobody reads any more, removed until none is left.
    static void RemoveUnread(ModelGraph graph)
    {
        for (var removed = true; removed;)
        {
            removed = false;
            var read = graph.Nodes.SelectMany(n => n.Inputs).Concat(graph.Outputs.Select(o => o.Name)).ToHashSet(StringComparer.Ordinal);
            foreach (var node in graph.Nodes.Where(n => n.OpType is "Shape" or "Gather" or "Unsqueeze" or "Concat" && !n.Outputs.Any(read.Contains)).ToList())
            {
                graph.Nodes.Remove(node);
                foreach (var output in node.Outputs) graph.ValueInfos.Remove(output);
                removed = true;
            }
        }
    }
}

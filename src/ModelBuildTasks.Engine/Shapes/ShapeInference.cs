using ModelBuildTasks.Graph;

namespace ModelBuildTasks.Shapes;

/// <summary>An operator the engine does not support, with the node that uses it.</summary>
/// <param name="OpType">The operator, e.g. <c>LSTM</c>.</param>
/// <param name="Domain">Its domain (empty for ONNX's default).</param>
/// <param name="NodeName">The first node that uses it.</param>
/// <param name="Count">How many nodes use it.</param>
public sealed record UnsupportedOperator(string OpType, string Domain, string NodeName, int Count);

/// <summary>What shape inference found.</summary>
/// <param name="Values">The type and shape of every value it could infer, by name.</param>
/// <param name="Unsupported">Operators it does not know; their outputs are left without a shape.</param>
public sealed record ShapeInferenceResult(IReadOnlyDictionary<string, ValueInfo> Values, IReadOnlyList<UnsupportedOperator> Unsupported);

/// <summary>
/// Infers the element type and shape of every value in a graph, node by node in topological order.
/// Symbolic dimensions (a batch size <c>N</c>) flow through. An unknown operator never throws: it
/// is listed in the result and the values after it stay unknown. A contradiction (a Conv whose
/// weights do not match its input's channels) throws <see cref="ModelBuildException"/> naming the node.
/// </summary>
public static class ShapeInference
{
    /// <summary>Infers types and shapes, without changing the graph.</summary>
    public static ShapeInferenceResult Infer(ModelGraph graph)
    {
        var values = new Dictionary<string, ValueInfo>(StringComparer.Ordinal);
        var constants = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var input in graph.Inputs) values[input.Name] = input;
        foreach (var t in graph.Initializers.Values)
        {
            values[t.Name] = new ValueInfo(t.Name, t.Type, t.Shape);
            constants[t.Name] = t;
        }
        var unsupported = new Dictionary<string, UnsupportedOperator>(StringComparer.Ordinal);
        foreach (var node in graph.Nodes)
        {
            if (!OperatorRules.IsSupported(node))
            {
                var key = node.Domain + "::" + node.OpType;
                unsupported[key] = unsupported.TryGetValue(key, out var seen)
                    ? seen with { Count = seen.Count + 1 }
                    : new UnsupportedOperator(node.OpType, node.Domain, node.Name, 1);
                continue;
            }
            var context = new ShapeContext(node, values, constants);
            IReadOnlyList<ValueInfo?> outputs;
            try
            {
                outputs = OperatorRules.Infer(context);
            }
            catch (ShapeContext.UnknownInput)
            {
                continue; // an input's shape is unknown (e.g. after an unsupported op): leave outputs unknown
            }
            for (var i = 0; i < node.Outputs.Count && i < outputs.Count; i++)
            {
                if (node.Outputs[i].Length == 0 || outputs[i] is not { } info) continue;
                values[node.Outputs[i]] = info with { Name = node.Outputs[i] };
            }
            if (node.OpType == "Constant" && OperatorRules.ConstantValue(node) is { } value)
                constants[node.Outputs[0]] = value;
        }
        return new ShapeInferenceResult(values, unsupported.Values.ToList());
    }

    /// <summary>Infers shapes and records them in <see cref="ModelGraph.ValueInfos"/> (and on outputs that lack one).</summary>
    public static ShapeInferenceResult Apply(ModelGraph graph)
    {
        var result = Infer(graph);
        var declared = new HashSet<string>(graph.Inputs.Select(i => i.Name).Concat(graph.Initializers.Keys), StringComparer.Ordinal);
        foreach (var node in graph.Nodes)
        foreach (var output in node.Outputs)
        {
            if (output.Length == 0 || declared.Contains(output) || graph.IsOutput(output)) continue;
            if (result.Values.TryGetValue(output, out var info)) graph.ValueInfos[output] = info;
        }
        for (var i = 0; i < graph.Outputs.Count; i++)
        {
            if (graph.Outputs[i].Shape is null && result.Values.TryGetValue(graph.Outputs[i].Name, out var info))
                graph.Outputs[i] = info;
        }
        return result;
    }
}

using ModelBuildTasks.Graph;

namespace ModelBuildTasks.Passes;

/// <summary>
/// Raises a model's default-domain opset to 13 (the first with per-channel DequantizeLinear),
/// rewriting the supported operators whose signature changed on the way: attributes that became
/// inputs (Clip, Pad, Dropout, Squeeze and Unsqueeze's axes), attributes that were removed (BatchNormalization's <c>spatial</c>,
/// <c>is_test</c>, <c>consumed_inputs</c>) and Softmax's and LogSoftmax's axis semantics.
/// </summary>
public static class OpsetUpgrade
{
    /// <summary>The opset the quantizer emits.</summary>
    public const long Target = 13;

    /// <summary>Upgrades in place; a model already at or above <see cref="Target"/> is left alone.</summary>
    public static void Apply(OnnxModel model)
    {
        var from = model.OpsetVersion;
        if (from >= Target) return;
        var graph = model.Graph;
        foreach (var node in graph.Nodes)
        {
            foreach (var legacy in new[] { "is_test", "consumed_inputs" }) node.Attributes.Remove(legacy);
            switch (node.OpType)
            {
                case "BatchNormalization":
                    if (node.GetInt("spatial", 1) != 1) throw Unsupported(node, "non-spatial BatchNormalization");
                    node.Attributes.Remove("spatial");
                    break;
                case "Clip" when from < 11:
                    AttributeToInput(graph, node, 1, node.Attributes.TryGetValue("min", out var min) ? min.Float : null, "min");
                    AttributeToInput(graph, node, 2, node.Attributes.TryGetValue("max", out var max) ? max.Float : null, "max");
                    node.Attributes.Remove("min");
                    node.Attributes.Remove("max");
                    break;
                case "Dropout" when from < 12:
                    AttributeToInput(graph, node, 1, node.Attributes.TryGetValue("ratio", out var ratio) ? ratio.Float : null, "ratio");
                    node.Attributes.Remove("ratio");
                    break;
                case "Pad" when from < 11:
                    var pads = node.GetInts("pads") ?? throw Unsupported(node, "Pad without pads");
                    while (node.Inputs.Count < 2) node.Inputs.Add("");
                    node.Inputs[1] = graph.AddInitializer(Tensor.FromInt64s(graph.UniqueName(node.Name + "_pads"), [pads.Length], pads));
                    if (node.Attributes.TryGetValue("value", out var value) && value.Float != 0)
                        AttributeToInput(graph, node, 2, value.Float, "value");
                    node.Attributes.Remove("pads");
                    node.Attributes.Remove("value");
                    break;
                case "Softmax" or "LogSoftmax" when from < 13:
                    // Before 13, Softmax normalised over all axes from `axis` on (default 1); from 13 over `axis` alone (default -1).
                    // They agree when `axis` is the last axis, which is the classifier case.
                    var rank = graph.ValueInfos.TryGetValue(node.Inputs[0], out var info) ? info.Shape?.Rank : null;
                    var axis = node.GetInt("axis", 1);
                    if (rank is null || (axis + rank) % rank != rank - 1) throw Unsupported(node, $"{node.OpType} over more than the last axis");
                    node.Attributes["axis"] = NodeAttribute.Of(-1L);
                    break;
                case "Squeeze" or "Unsqueeze" when node.GetInts("axes") is { } axes:
                    // From 13 the axes are an input.
                    while (node.Inputs.Count < 2) node.Inputs.Add("");
                    node.Inputs[1] = graph.AddInitializer(Tensor.FromInt64s(graph.UniqueName(node.Name + "_axes"), [axes.Length], axes));
                    node.Attributes.Remove("axes");
                    break;
            }
        }
        var index = model.Opsets.FindIndex(o => o.Domain is "" or "ai.onnx");
        model.Opsets[index] = new OpsetImport(model.Opsets[index].Domain, Target);
        if (model.IrVersion < 7) model.IrVersion = 7;
    }

    static void AttributeToInput(ModelGraph graph, Node node, int index, float? value, string what)
    {
        if (value is null) return;
        while (node.Inputs.Count <= index) node.Inputs.Add("");
        node.Inputs[index] = graph.AddInitializer(Tensor.FromFloats(graph.UniqueName($"{node.Name}_{what}"), [], [value.Value]));
    }

    static ModelBuildException Unsupported(Node node, string what) =>
        new(ErrorCodes.UnsupportedOperator, $"{node}: {what} cannot be upgraded to opset {Target} for quantization");
}

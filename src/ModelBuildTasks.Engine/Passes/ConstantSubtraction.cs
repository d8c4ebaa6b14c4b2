using ModelBuildTasks.Graph;

namespace ModelBuildTasks.Passes;

/// <summary>
/// Makes a float <c>Sub(x, c)</c> with a constant <c>c</c> the <c>Add(x, -c)</c> it equals: a normalisation an
/// exporter kept in the graph (<c>(x - mean) / std</c>, Keras' Normalization layer, a wrapper module around a
/// torchvision model) or a shift inside the network. IEEE subtraction is the addition of the negation, so the
/// outputs are the same to the bit; every pass then handles it as the Add (with its constant) it already knows.
/// </summary>
public static class ConstantSubtraction
{
    /// <summary>Rewrites in place; returns how many Subs became Adds.</summary>
    public static int Apply(ModelGraph graph)
    {
        var rewritten = 0;
        for (var i = 0; i < graph.Nodes.Count; i++)
        {
            var node = graph.Nodes[i];
            if (node.OpType != "Sub" || node.Domain is not ("" or "ai.onnx") || node.Inputs.Count != 2
                || graph.FindInitializer(node.Inputs[1]) is not { Type: ElementType.Float } subtrahend
                || graph.FindInitializer(node.Inputs[0]) is not null) continue;
            var negated = subtrahend.Floats.ToArray();
            for (var k = 0; k < negated.Length; k++) negated[k] = -negated[k];
            // A new tensor: the constant may be read by other nodes too.
            var name = graph.AddInitializer(Tensor.FromFloats(graph.UniqueName(subtrahend.Name + "_negated"), subtrahend.Dims, negated));
            var add = new Node(node.Name, "Add", [node.Inputs[0], name], node.Outputs);
            graph.Nodes[i] = add;
            rewritten++;
        }
        return rewritten; // a constant nothing else reads is left to UnusedInitializers, which loading runs next
    }
}

using ModelBuildTasks.Graph;

namespace ModelBuildTasks.Passes;

/// <summary>
/// Gives each convolution and matrix product its own copy of a weight tensor it shares with another (a tied parameter,
/// or one torch.onnx shared through an Identity that <see cref="ConstantWeights"/> bypassed). Every pass works on a
/// layer's own weights: a shared tensor was left float by quantization and split apart by slimming. The copies start
/// equal, so the model computes what it did; each is then quantized and pruned for its own layer, and two int8 copies
/// still take half the bytes of the one float tensor.
/// </summary>
public static class TiedWeights
{
    /// <summary>Unties in place; returns how many copies were made.</summary>
    public static int Untie(ModelGraph graph)
    {
        var copies = 0;
        foreach (var node in graph.Nodes.Where(n => n.OpType is "Conv" or "Gemm" or "MatMul" && n.Domain is "" or "ai.onnx").ToList())
        {
            if (graph.FindInitializer(node.Input(1)) is not { Type: ElementType.Float } weights) continue;
            // While anything else reads the tensor, this user takes a copy; the last one left keeps the original.
            if (!graph.Nodes.Any(n => n != node && n.Inputs.Contains(weights.Name)) && !graph.IsOutput(weights.Name)) continue;
            var copy = graph.AddInitializer(new Tensor(graph.UniqueName(weights.Name + "_untied"), weights.Type, weights.Dims, weights.Data.ToArray()));
            node.Inputs[1] = copy;
            copies++;
        }
        return copies;
    }
}

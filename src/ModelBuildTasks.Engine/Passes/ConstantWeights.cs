using ModelBuildTasks.Graph;

namespace ModelBuildTasks.Passes;

/// <summary>
/// Makes weights that reach their operator through a node plain initializers, as every pass expects a weight to be:
/// a <c>Constant</c> node (older exporters, hand-built graphs) becomes an initializer, an <c>Identity</c> of an
/// initializer (torch.onnx's form of a shared parameter) is bypassed so its consumers read the initializer itself
/// (shared weights stay one tensor), and a <c>Transpose</c> of an initializer (a classifier stored the other way
/// round) is computed once. Repeated until nothing changes, so a Constant then Transposed folds too. Without it a
/// pass that looks for a layer's weights found none: quantization left them float while the report said otherwise.
/// </summary>
public static class ConstantWeights
{
    /// <summary>Folds in place; returns how many nodes went.</summary>
    public static int Fold(ModelGraph graph)
    {
        if (graph.HasSubgraphs) return 0;
        var folded = 0;
        for (var changed = true; changed;)
        {
            changed = false;
            foreach (var node in graph.Nodes.ToList())
            {
                if (node.Domain is not ("" or "ai.onnx") || node.Outputs.Count != 1) continue;
                var output = node.Outputs[0];
                if (graph.IsOutput(output) || graph.Initializers.ContainsKey(output)) continue;
                if (node.OpType == "Identity" && graph.FindInitializer(node.Input(0)) is { } source)
                {
                    foreach (var consumer in graph.Consumers(output).ToList())
                        for (var i = 0; i < consumer.Inputs.Count; i++)
                            if (consumer.Inputs[i] == output) consumer.Inputs[i] = source.Name;
                }
                else if (node.OpType switch
                {
                    "Constant" when node.Inputs.Count == 0 => Shapes.OperatorRules.ConstantValue(node),
                    "Transpose" when graph.FindInitializer(node.Input(0)) is { } t => Transposed(t, node.GetInts("perm")),
                    _ => null,
                } is { } value)
                {
                    graph.Initializers[output] = new Tensor(output, value.Type, value.Dims, value.Data);
                }
                else continue;
                graph.Nodes.Remove(node);
                graph.ValueInfos.Remove(output);
                folded++;
                changed = true;
            }
        }
        return folded;
    }

    // The tensor with its axes permuted (ONNX's default: reversed), for any element size.
    static Tensor? Transposed(Tensor tensor, long[]? perm)
    {
        var rank = tensor.Dims.Length;
        var order = perm ?? Enumerable.Range(0, rank).Reverse().Select(i => (long)i).ToArray();
        if (order.Length != rank || order.Distinct().Count() != rank || order.Any(p => p < 0 || p >= rank)) return null;
        var count = tensor.ElementCount;
        if (count == 0 || tensor.Data.Length % count != 0) return null;
        var size = (int)(tensor.Data.Length / count);
        var dims = order.Select(p => tensor.Dims[p]).ToArray();
        var strides = new long[rank];
        for (long s = 1, d = rank - 1; d >= 0; s *= tensor.Dims[d], d--) strides[d] = s;
        var data = new byte[tensor.Data.Length];
        var index = new long[rank]; // position in the output, odometer order
        for (long o = 0; o < count; o++)
        {
            long from = 0;
            for (var d = 0; d < rank; d++) from += index[d] * strides[order[d]];
            Buffer.BlockCopy(tensor.Data, (int)(from * size), data, (int)(o * size), size);
            for (var d = rank - 1; d >= 0 && ++index[d] == dims[d]; d--) index[d] = 0;
        }
        return new Tensor(tensor.Name, tensor.Type, dims, data);
    }
}

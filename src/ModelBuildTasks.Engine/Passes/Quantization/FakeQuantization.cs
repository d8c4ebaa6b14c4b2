using ModelBuildTasks.Graph;

namespace ModelBuildTasks.Passes.Quantization;

/// <summary>
/// Snaps float weights onto the integer grid IQ will use (per output channel, symmetric,
/// <c>b</c> bits) while keeping them float, so that methods applied after IQ work on quantized
/// weights. The grid survives BatchNorm folding: folding scales each output channel by one factor,
/// which scales that channel's grid step by the same factor, so the final quantization recovers the
/// same integers.
/// </summary>
public static class FakeQuantization
{
    /// <summary>Snaps every quantizable Conv/Gemm/MatMul weight of <paramref name="graph"/> in place (but those in <paramref name="keepFloat"/>); returns how many tensors.</summary>
    /// <param name="graph">The model.</param>
    /// <param name="bits">The grid's bits.</param>
    /// <param name="keepFloat">Weights left float.</param>
    /// <param name="layerBits">Weights snapped onto a narrower grid than <paramref name="bits"/> (<see cref="QuantizationOptions.LayerBits"/>).</param>
    public static int Apply(ModelGraph graph, int bits, IReadOnlySet<string>? keepFloat = null, IReadOnlyDictionary<string, int>? layerBits = null)
    {
        if (bits is < 2 or > 8) throw new ModelBuildException(ErrorCodes.InvalidSetting, $"quantization bits must be 2 to 8, not {bits}");
        var snapped = 0;
        foreach (var node in graph.Nodes.Where(n => n.OpType is "Conv" or "Gemm" or "MatMul" && !QdqQuantizer.IsKeptFloat(n, keepFloat)))
        {
            if (WeightQuantization.OutputAxis(graph, node) is not { } axis) continue;
            var weights = graph.FindInitializer(node.Input(1))!;
            var values = weights.Floats;
            var (q, scales) = WeightQuantization.PerChannel(values, weights.Dims, axis, layerBits is not null && layerBits.TryGetValue(weights.Name, out var narrower) ? narrower : bits);
            var inner = (int)weights.Dims.Skip(axis + 1).Aggregate(1L, (a, b) => a * b);
            for (var i = 0; i < values.Length; i++) values[i] = q[i] * scales[i / inner % scales.Length];
            snapped++;
        }
        return snapped;
    }
}

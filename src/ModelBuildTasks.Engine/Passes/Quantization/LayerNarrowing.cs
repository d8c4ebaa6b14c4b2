using System.Numerics.Tensors;
using ModelBuildTasks.Graph;

namespace ModelBuildTasks.Passes.Quantization;

/// <summary>
/// Per-layer precision (issue 15, scope 2): the order in which layers give up bits below the model's
/// grid, cheapest first, so that one knob (how many steps of the order are taken) spans everything
/// from the uniform grid to every layer at 2 bits. A step takes one layer one bit narrower. Its cost
/// is the growth of that layer's own output error, measured on its input statistics alone (<see
/// cref="Costs"/>), so no layer's cost depends on what the others do; its gain is the layer's weight
/// count, a bit each. Steps are taken by least cost per weight, each layer one bit at a time, so a
/// large fully connected layer that tolerates coarse rounding goes to 3 or 2 bits before a small
/// convolution loses its first. The margin search then measures positions of the order, never a
/// layer on its own (docs/method.md, "Per-layer precision").
/// </summary>
public static class LayerNarrowing
{
    /// <summary>The narrowest grid a layer is given: 2 bits (the levels -1, 0 and 1 per channel).</summary>
    public const int MinBits = 2;

    /// <summary>One step of the order.</summary>
    /// <param name="Weights">The layer's weights (initializer name).</param>
    /// <param name="Bits">Its bits after the step.</param>
    /// <param name="Cost">The step's cost: the growth of the layer's relative output error.</param>
    public sealed record Step(string Weights, int Bits, double Cost);

    /// <summary>A layer's cost on every grid, and its weight count.</summary>
    /// <param name="Error">By bits (index 2 up to the grid measured): tr(dW H dWT) / tr(W H WT), the relative error of the layer's output when its weights are rounded and its input is exact.</param>
    /// <param name="Weights">The layer's weight count.</param>
    public sealed record LayerCost(double[] Error, long Weights);

    /// <summary>
    /// Each layer's cost on every grid from <paramref name="bits"/> down to <paramref name="floor"/>, from the H blocks error
    /// compensation uses (H = sum x xT over the layer's calibration inputs): the layer is rounded as the
    /// export will round it, and the output error that leaves is dW H dWT, row by row and block by block.
    /// Nearest rounding's costs would overstate what a coarse grid costs a wide layer under compensated
    /// rounding, which spreads the error over its many columns (the VGG sample's classifier at 2 bits: 0.29
    /// of its output's energy to nearest rounding, 0.004 compensated, and no accuracy lost).
    /// </summary>
    /// <param name="folded">The float model, BatchNorms folded (what <paramref name="hessians"/> was measured on; not modified).</param>
    /// <param name="hessians">Its H blocks.</param>
    /// <param name="bits">The widest grid measured.</param>
    /// <param name="compensated">Round as <see cref="ErrorCompensation"/> does, else to the nearest level (as fine-tuned chains snap).</param>
    /// <param name="floor">The narrowest grid measured.</param>
    public static IReadOnlyDictionary<string, LayerCost> Costs(OnnxModel folded, LayerHessians hessians, int bits, bool compensated, int floor = MinBits)
    {
        var layers = new Dictionary<string, (float[] Values, WeightLayout Layout, float[] H, double Energy)>(StringComparer.Ordinal);
        var graph = folded.Graph;
        foreach (var node in graph.Nodes)
        {
            if (WeightQuantization.OutputAxis(graph, node) is null || graph.FindInitializer(node.Input(1)) is not { } weight) continue;
            if (hessians.For(weight.Name) is not { } measured || measured.Layout.Rows * measured.Layout.Columns != weight.ElementCount) continue;
            var values = weight.Floats.ToArray();
            layers[weight.Name] = (values, measured.Layout, measured.H, Quadratic(values, measured.Layout, measured.H));
        }
        var error = layers.Keys.ToDictionary(w => w, _ => new double[bits + 1], StringComparer.Ordinal);
        for (var b = Math.Max(MinBits, floor); b <= bits; b++)
        {
            var rounded = OnnxImport.ToModel(OnnxExport.ToProto(folded));
            if (compensated) ErrorCompensation.Apply(rounded.Graph, hessians, _ => b);
            else FakeQuantization.Apply(rounded.Graph, b);
            foreach (var (name, layer) in layers)
            {
                var after = rounded.Graph.FindInitializer(name)!.Floats;
                var delta = new float[layer.Values.Length];
                for (var i = 0; i < delta.Length; i++) delta[i] = layer.Values[i] - after[i];
                error[name][b] = layer.Energy > 0 ? Quadratic(delta, layer.Layout, layer.H) / layer.Energy : 0;
            }
        }
        return layers.ToDictionary(kv => kv.Key, kv => new LayerCost(error[kv.Key], kv.Value.Values.Length), StringComparer.Ordinal);
    }

    // Sum over rows and H blocks of v_block H_block v_blockT, for v laid out as the weight.
    static double Quadratic(float[] v, WeightLayout layout, float[] h)
    {
        var (rows, columns, b) = (layout.Rows, layout.Columns, layout.BlockSize);
        var rowsPerGroup = rows / layout.Groups;
        var blocksPerGroup = layout.Blocks / layout.Groups;
        var total = 0.0;
        var gate = new object();
        for (var k = 0; k < layout.Blocks; k++)
        {
            var (r0, c0) = (k / blocksPerGroup * rowsPerGroup, k % blocksPerGroup * b);
            var hk = h.AsMemory((int)((long)k * b * b), b * b);
            Parallel.For(0, rowsPerGroup, () => 0.0, (r, _, sum) =>
            {
                Span<float> x = b <= 1024 ? stackalloc float[b] : new float[b];
                for (var c = 0; c < b; c++) x[c] = v[layout.RowMajor ? (r0 + r) * columns + c0 + c : (c0 + c) * rows + r0 + r];
                var hs = hk.Span;
                for (var i = 0; i < b; i++)
                    if (x[i] != 0) sum += x[i] * (double)TensorPrimitives.Dot(hs.Slice(i * b, b), x);
                return sum;
            }, sum => { lock (gate) total += sum; });
        }
        return total;
    }

    /// <summary>Every step from the uniform <paramref name="bits"/>-bit grid down to <paramref name="floor"/> bits for every layer in <paramref name="costs"/>, cheapest per weight first.</summary>
    /// <param name="costs">The layers' costs, measured down to <paramref name="floor"/> at least.</param>
    /// <param name="bits">The model's grid.</param>
    /// <param name="floor">The fewest bits a layer gets (<see cref="MinBits"/> or more).</param>
    public static IReadOnlyList<Step> Order(IReadOnlyDictionary<string, LayerCost> costs, int bits, int floor = MinBits)
    {
        var current = costs.Keys.ToDictionary(w => w, _ => bits, StringComparer.Ordinal);
        var steps = new List<Step>();
        while (true)
        {
            // The next step of each layer still above the floor; the cheapest per weight goes first, the larger layer on a tie.
            var next = current.Where(kv => kv.Value > Math.Max(MinBits, floor) && costs[kv.Key].Weights > 0)
                .Select(kv => new Step(kv.Key, kv.Value - 1, costs[kv.Key].Error[kv.Value - 1] - costs[kv.Key].Error[kv.Value]))
                .OrderBy(s => Math.Max(0, s.Cost) / costs[s.Weights].Weights).ThenByDescending(s => costs[s.Weights].Weights).ThenBy(s => s.Weights, StringComparer.Ordinal)
                .FirstOrDefault();
            if (next is null) return steps;
            steps.Add(next);
            current[next.Weights] = next.Bits;
        }
    }

    /// <summary>A layer's grid as text, <c>WEIGHTS:BITS</c>: the container's <c>layer_bits</c> entries and the training tool's <c>--layer-bits</c>.</summary>
    public static string Entry(string weights, int bits) => $"{weights}:{bits.ToString(System.Globalization.CultureInfo.InvariantCulture)}";

    /// <summary>Reads <see cref="Entry"/>'s text, or null when it is not one. The last colon separates the bits: a weight's name may hold colons.</summary>
    public static (string Weights, int Bits)? ParseEntry(string text)
    {
        var colon = text.LastIndexOf(':');
        return colon > 0 && int.TryParse(text.AsSpan(colon + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var bits)
            ? (text[..colon], bits)
            : null;
    }

    /// <summary>The layers' bits after the first <paramref name="count"/> steps of <paramref name="order"/>: only those narrowed.</summary>
    public static IReadOnlyDictionary<string, int> After(IReadOnlyList<Step> order, int count)
    {
        var bits = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var step in order.Take(count)) bits[step.Weights] = step.Bits;
        return bits;
    }
}

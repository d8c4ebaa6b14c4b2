using ModelBuildTasks.Graph;
using ModelBuildTasks.Passes.Slimming;
using ModelBuildTasks.Shapes;

namespace ModelBuildTasks.Passes;

/// <summary>
/// Adds zero channels to convolutions whose channel counts keep ONNX Runtime's int8 convolutions off their fast
/// kernels (MLAS's symmetric convolution: requantization fused, no im2col copy), the reverse of network slimming's
/// removal. Those kernels take a convolution with 16 or more outputs, output and input channels a multiple of 8 and
/// 4 (on AVX2; 4 and 4 with VNNI), and a depthwise one whose channel count is a multiple of 16. A DenseNet with growth
/// rate 12 fails every one of these: its 12-channel convolutions and the BatchNorms over their concatenations (run as
/// depthwise convolutions, <see cref="BatchNormAsDepthwiseConv"/>) took the slow path, 3-4x slower per multiply-add.
/// <para>A padded channel has zero weights and zero bias, so it is zero everywhere and its consumers, given zero
/// weights on it, compute exactly what they computed before. Only single-group convolutions' outputs are padded,
/// at their end, and only when the padding adds at most a third of their channels; a channel the dependency
/// analysis cannot follow (<see cref="ChannelGraph"/>: a graph output, an unknown op, a residual Add) is never padded.</para>
/// </summary>
public static class ChannelPadding
{
    /// <summary>Pads in place; returns how many convolutions' outputs were padded.</summary>
    public static int Apply(ModelGraph graph)
    {
        graph.ValueInfos.Clear();
        ShapeInference.Apply(graph);
        var channels = new ChannelGraph(graph);
        var padding = Padding(graph, channels);
        if (padding.Count == 0) return 0;
        if (LayoutMaps(graph, channels, padding) is not { } maps) return 0;

        foreach (var node in graph.Nodes.ToList())
        {
            switch (node.OpType)
            {
                case "Conv" when graph.FindInitializer(node.Input(1)) is { Type: ElementType.Float } w:
                {
                    var depthwise = node.GetInt("group", 1) > 1;
                    var outMap = maps.GetValueOrDefault(node.Outputs[0]);
                    var inMap = maps.GetValueOrDefault(node.Inputs[0]);
                    if (outMap is null && inMap is null) break;
                    var weights = w;
                    if (outMap is not null) weights = Remap(weights, 0, outMap, 0);
                    if (!depthwise && inMap is not null) weights = Remap(weights, 1, inMap, 0);
                    NetworkSlimming.Replace(graph, node, 1, weights);
                    if (outMap is not null && graph.FindInitializer(node.Input(2)) is { } bias) NetworkSlimming.Replace(graph, node, 2, Remap(bias, 0, outMap, 0));
                    if (depthwise && outMap is not null) node.Attributes["group"] = NodeAttribute.Of((long)outMap.Length);
                    break;
                }
                case "BatchNormalization" when maps.GetValueOrDefault(node.Inputs[0]) is { } map:
                    for (var i = 1; i <= 4; i++)
                        if (graph.FindInitializer(node.Input(i)) is { } t) NetworkSlimming.Replace(graph, node, i, Remap(t, 0, map, i == 4 ? 1 : 0));
                    break;
                case "Reshape" when channels.Flattened.TryGetValue(node.Outputs[0], out var reshaped) && maps.GetValueOrDefault(reshaped.Input) is { } map
                                    && graph.FindInitializer(node.Input(1))!.ToInt64s() is [-1, var features]:
                    NetworkSlimming.Replace(graph, node, 1, Tensor.FromInt64s("", [2], [-1, features / reshaped.Ids.Length * map.Length]));
                    break;
                case "Gemm" or "MatMul" when channels.Flattened.TryGetValue(node.Inputs[0], out var flat) && maps.GetValueOrDefault(flat.Input) is { } map:
                {
                    var weights = graph.FindInitializer(node.Input(1))!;
                    var axis = node.OpType == "Gemm" && node.GetInt("transB", 0) == 1 ? 1 : 0;
                    var perChannel = (int)(weights.Dims[axis] / flat.Ids.Length);
                    var features = map.SelectMany(c => Enumerable.Range(0, perChannel).Select(k => c < 0 ? -1 : c * perChannel + k)).ToArray();
                    NetworkSlimming.Replace(graph, node, 1, Remap(weights, axis, features, 0));
                    break;
                }
            }
        }
        graph.ValueInfos.Clear();
        ShapeInference.Apply(graph);
        return padding.Count;
    }

    // Zero channels to add per single-group Conv output: up to a multiple of 16 when a depthwise convolution reads the
    // channels (its channel count is the sum of its parts'), else of 8 and at least 16.
    static Dictionary<string, int> Padding(ModelGraph graph, ChannelGraph channels)
    {
        var readByDepthwise = new HashSet<int>();
        foreach (var conv in graph.Nodes.Where(n => n.OpType == "Conv" && n.GetInt("group", 1) > 1))
            if (channels.CompositionOf(conv.Inputs[0]) is { } ids) readByDepthwise.UnionWith(ids);
        var sources = graph.Nodes.Where(n => n.OpType == "Conv" && n.GetInt("group", 1) == 1).Select(n => n.Outputs[0]).ToHashSet(StringComparer.Ordinal);
        // A group spanning two spaces (a residual Add) would need both padded alike; such spaces are left as they are.
        var spacesOfGroup = channels.Spaces.SelectMany(s => Enumerable.Range(0, s.Value).Select(i => (Space: s.Key, Group: channels.Group(channels.Element(s.Key, i)))))
            .GroupBy(x => x.Group).ToDictionary(g => g.Key, g => g.Select(x => x.Space).Distinct().Count(s => sources.Contains(s)));
        var padding = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (space, size) in channels.Spaces)
        {
            if (!sources.Contains(space)) continue;
            var elements = Enumerable.Range(0, size).Select(i => channels.Element(space, i)).ToList();
            if (elements.Any(channels.IsPinned) || elements.Any(e => spacesOfGroup[channels.Group(e)] > 1)) continue;
            var multiple = elements.Any(readByDepthwise.Contains) ? 16 : 8;
            var target = Math.Max(16, (size + multiple - 1) / multiple * multiple);
            if (target > size && 3 * (target - size) <= size) padding[space] = target - size;
        }
        return padding;
    }

    // For every tensor carrying padded channels, where each of its new channels comes from: an old channel's index,
    // or -1 for a zero channel. Null when an operator the padding reaches cannot be followed.
    static Dictionary<string, int[]>? LayoutMaps(ModelGraph graph, ChannelGraph channels, IReadOnlyDictionary<string, int> padding)
    {
        var maps = new Dictionary<string, int[]>(StringComparer.Ordinal);
        int Size(string tensor) => channels.CompositionOf(tensor)?.Length ?? 0;
        foreach (var node in graph.Nodes)
        {
            var input = node.Inputs.Count > 0 ? maps.GetValueOrDefault(node.Inputs[0]) : null;
            switch (node.OpType)
            {
                case "Conv" when node.GetInt("group", 1) == 1:
                    if (padding.TryGetValue(node.Outputs[0], out var extra))
                        maps[node.Outputs[0]] = [.. Enumerable.Range(0, Size(node.Outputs[0])), .. Enumerable.Repeat(-1, extra)];
                    continue;
                case "Conv" when input is not null: // depthwise: channel i in, channel i out
                case "BatchNormalization" or "Relu" or "Clip" or "LeakyRelu" or "Sigmoid" or "HardSigmoid" or "HardSwish" or "Dropout" or "Identity"
                    or "MaxPool" or "AveragePool" or "GlobalAveragePool" or "GlobalMaxPool" or "QuantizeLinear" or "DequantizeLinear" or "ReduceMean" when input is not null:
                    maps[node.Outputs[0]] = input;
                    continue;
                case "Add" or "Mul" or "Div" or "PRelu" when node.Inputs.Any(maps.ContainsKey):
                {
                    var carried = node.Inputs.Where(i => channels.CompositionOf(i) is not null).Select(i => maps.GetValueOrDefault(i)).ToList();
                    if (carried.Any(m => m is null) || carried.Skip(1).Any(m => !m!.SequenceEqual(carried[0]!))) return null;
                    maps[node.Outputs[0]] = carried[0]!;
                    continue;
                }
                case "Concat" when node.Inputs.Any(maps.ContainsKey):
                {
                    var map = new List<int>();
                    var offset = 0;
                    foreach (var part in node.Inputs)
                    {
                        map.AddRange(maps.TryGetValue(part, out var m) ? m.Select(c => c < 0 ? -1 : c + offset) : Enumerable.Range(offset, Size(part)));
                        offset += Size(part);
                    }
                    maps[node.Outputs[0]] = [.. map];
                    continue;
                }
                case "Flatten" or "Reshape" when input is not null:
                    if (!channels.Flattened.ContainsKey(node.Outputs[0])) return null;
                    continue; // its features are remapped at the Gemm or MatMul reading them
                default:
                    if (node.Inputs.Any(maps.ContainsKey)) return null;
                    continue;
            }
        }
        return maps;
    }

    // `tensor` with its `axis` laid out as `map` says: old index, or `fill` where the map says -1.
    static Tensor Remap(Tensor tensor, int axis, int[] map, float fill)
    {
        var outer = (int)tensor.Dims.Take(axis).Aggregate(1L, (a, b) => a * b);
        var inner = (int)tensor.Dims.Skip(axis + 1).Aggregate(1L, (a, b) => a * b);
        var length = (int)tensor.Dims[axis];
        var source = tensor.Floats;
        var values = new float[outer * map.Length * inner];
        for (var o = 0; o < outer; o++)
            for (var k = 0; k < map.Length; k++)
            {
                var target = values.AsSpan((o * map.Length + k) * inner, inner);
                if (map[k] < 0) target.Fill(fill);
                else source.Slice((o * length + map[k]) * inner, inner).CopyTo(target);
            }
        var dims = tensor.Dims.ToArray();
        dims[axis] = map.Length;
        return Tensor.FromFloats(tensor.Name, dims, values);
    }
}

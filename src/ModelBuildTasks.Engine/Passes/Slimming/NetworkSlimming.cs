using ModelBuildTasks.Graph;
using ModelBuildTasks.Shapes;

namespace ModelBuildTasks.Passes.Slimming;

/// <summary>What network slimming removed.</summary>
/// <param name="ChannelsBefore">Conv output channels before.</param>
/// <param name="ChannelsAfter">Conv output channels after.</param>
/// <param name="ParametersBefore">Float parameters before.</param>
/// <param name="ParametersAfter">Float parameters after.</param>
/// <param name="KeptPerLayer">Channels kept per conv output, as (kept, of).</param>
/// <param name="Pinned">Why some channels could not be considered (left alone).</param>
public sealed record SlimmingReport(int ChannelsBefore, int ChannelsAfter, long ParametersBefore, long ParametersAfter,
    IReadOnlyDictionary<string, (int Kept, int Of)> KeptPerLayer, IReadOnlyList<string> Pinned);

/// <summary>
/// Network slimming (Liu et al., ICCV 2017): a channel's importance is |gamma| of the BatchNorm
/// scaling it; one global threshold removes the least important <c>ratio</c> of the prunable
/// channels, and removal is physical: the conv's output channels, the BatchNorm entries, and the
/// input channels (or feature columns) of every consumer shrink, so the result is a smaller dense
/// model. Coupled channels (residual Add, depthwise conv) go together; see <see cref="ChannelGraph"/>.
/// </summary>
public static class NetworkSlimming
{
    /// <summary>Slims <paramref name="model"/> in place, removing about <paramref name="ratio"/> of the prunable channels.</summary>
    /// <param name="model">The float model, BatchNorms in.</param>
    /// <param name="ratio">The fraction of prunable channels to remove.</param>
    /// <param name="calibration">Images to measure what removed channels carry on average (<see cref="ChannelMeans"/>); each
    /// consumer's bias then takes over that average. Without them (or without fine-tuning to recover it) that part is lost.</param>
    public static SlimmingReport Apply(OnnxModel model, double ratio, Data.ImageDataset? calibration = null)
    {
        if (ratio is < 0 or >= 1) throw new ModelBuildException(ErrorCodes.InvalidSetting, $"the channel ratio must be in [0, 1), not {ratio}");
        var graph = model.Graph;
        graph.ValueInfos.Clear();
        ShapeInference.Apply(graph);
        var channels = new ChannelGraph(graph);
        var spaces = channels.Spaces;
        var parametersBefore = graph.ParameterCount;

        // Importance per group: the largest |gamma| any BatchNorm gives one of its channels.
        var importance = new Dictionary<int, float>();
        foreach (var bn in graph.Nodes.Where(n => n.OpType == "BatchNormalization"))
        {
            if (channels.CompositionOf(bn.Inputs[0]) is not { } ids || graph.FindInitializer(bn.Input(1)) is not { } gamma) continue;
            for (var p = 0; p < ids.Length; p++)
            {
                var group = channels.Group(ids[p]);
                importance[group] = Math.Max(importance.GetValueOrDefault(group), Math.Abs(gamma.Floats[p]));
            }
        }
        var candidates = importance.Keys.Where(g => !channels.IsPinned(g)).ToList();
        var remove = new HashSet<int>();
        if (ratio > 0 && candidates.Count > 0)
        {
            var elementsPerGroup = spaces.SelectMany(s => Enumerable.Range(0, s.Value).Select(i => channels.Group(channels.Element(s.Key, i))))
                .GroupBy(g => g).ToDictionary(g => g.Key, g => g.Count());
            var total = candidates.Sum(g => elementsPerGroup.GetValueOrDefault(g));
            var budget = (int)Math.Round(ratio * total);
            foreach (var group in candidates.OrderBy(g => importance[g]).ThenBy(g => g))
            {
                if (budget <= 0) break;
                remove.Add(group);
                budget -= elementsPerGroup.GetValueOrDefault(group);
            }
        }

        // A conv never loses all its channels: restore its most important group (with whatever is coupled to it)
        // until no space is empty, and only then decide what each space keeps, so coupled spaces stay consistent.
        for (var changed = true; changed;)
        {
            changed = false;
            foreach (var (space, size) in spaces)
            {
                var groups = Enumerable.Range(0, size).Select(i => channels.Group(channels.Element(space, i))).ToList();
                if (!groups.All(remove.Contains)) continue;
                remove.Remove(groups.OrderByDescending(g => importance.GetValueOrDefault(g)).ThenBy(g => g).First());
                changed = true;
            }
        }
        var kept = spaces.ToDictionary(s => s.Key,
            s => Enumerable.Range(0, s.Value).Where(i => !remove.Contains(channels.Group(channels.Element(s.Key, i)))).ToArray(), StringComparer.Ordinal);
        bool Keeps(int element) => !remove.Contains(channels.Group(element));

        // What each consumer still gets, on average, from the channels it loses: measured before anything is removed.
        var means = calibration is not null && remove.Count > 0
            ? ChannelMeans.Measure(model, graph.Nodes.Where(n => LosesInputs(n) && n.OpType is "Conv" or "Gemm").Select(n => n.Inputs[0]).ToHashSet(StringComparer.Ordinal), calibration)
            : [];
        bool LosesInputs(Node node) =>
            node.OpType == "Conv" && node.GetInt("group", 1) == 1 && channels.CompositionOf(node.Inputs[0]) is { } ids && ids.Any(id => !Keeps(id))
            || node.OpType is "Gemm" or "MatMul" && channels.Flattened.TryGetValue(node.Inputs[0], out var flat) && flat.Ids.Any(id => !Keeps(id));

        // Remove: per node, slice what it owns.
        var featuresPerChannel = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var (flat, (input, _)) in channels.Flattened)
        {
            var shape = graph.ValueInfos.TryGetValue(input, out var info) ? info.Shape : null;
            featuresPerChannel[flat] = shape is { Rank: 4 } s && s[2].IsKnown && s[3].IsKnown ? s[2].Value * s[3].Value : -1;
        }
        foreach (var node in graph.Nodes.ToList())
        {
            var input = node.Input(0) is { } name ? channels.CompositionOf(name) : null;
            switch (node.OpType)
            {
                case "Conv":
                {
                    var w = graph.FindInitializer(node.Input(1))!;
                    var outKeep = kept.TryGetValue(node.Outputs[0], out var k) ? k : Enumerable.Range(0, (int)w.Dims[0]).ToArray();
                    var group = node.GetInt("group", 1);
                    var inKeep = input is not null && group == 1 ? Positions(input, Keeps) : null;
                    Replace(graph, node, 1, Slice(w, 0, outKeep));
                    if (graph.FindInitializer(node.Input(2)) is { } b) Replace(graph, node, 2, Slice(b, 0, outKeep));
                    if (inKeep is not null && means.TryGetValue(node.Inputs[0], out var mean))
                        Compensate(graph, node, graph.FindInitializer(node.Input(1))!, inputAxis: 1, inKeep, mean, scale: 1);
                    if (inKeep is not null) Replace(graph, node, 1, Slice(graph.FindInitializer(node.Input(1))!, 1, inKeep));
                    if (group > 1 && group == w.Dims[0]) node.Attributes["group"] = NodeAttribute.Of((long)outKeep.Length);
                    break;
                }
                case "BatchNormalization" when input is not null:
                {
                    var keep = Positions(input, Keeps);
                    for (var i = 1; i <= 4; i++)
                        if (graph.FindInitializer(node.Input(i)) is { } t) Replace(graph, node, i, Slice(t, 0, keep));
                    break;
                }
                case "Gemm" or "MatMul" when channels.Flattened.TryGetValue(node.Inputs[0], out var flat):
                {
                    var perChannel = featuresPerChannel[node.Inputs[0]];
                    var keep = Positions(flat.Ids, Keeps).SelectMany(c => Enumerable.Range((int)(c * perChannel), (int)perChannel)).ToArray();
                    var w = graph.FindInitializer(node.Input(1))!;
                    var axis = node.OpType == "Gemm" && node.GetInt("transB", 0) == 1 ? 1 : 0; // the input-feature axis
                    if (node.OpType == "Gemm" && w.Dims.Length == 2 && node.GetFloat("beta", 1) != 0 && means.TryGetValue(node.Inputs[0], out var mean))
                        Compensate(graph, node, w, axis, keep, mean, scale: node.GetFloat("alpha", 1) / node.GetFloat("beta", 1));
                    Replace(graph, node, 1, Slice(w, axis, keep));
                    break;
                }
            }
        }

        graph.ValueInfos.Clear();
        ShapeInference.Apply(graph);
        var perLayer = spaces.ToDictionary(s => s.Key, s => (kept[s.Key].Length, s.Value), StringComparer.Ordinal);
        return new SlimmingReport(spaces.Values.Sum(), kept.Values.Sum(k => k.Length), parametersBefore, graph.ParameterCount, perLayer, channels.PinReasons);
    }

    // bias[o] += scale x sum over removed inputs i of mean[i] x (the weights from input i to output o,
    // summed over kernel positions). The sum ignores zero padding: at a border the consumer got less.
    static void Compensate(ModelGraph graph, Node node, Tensor weight, int inputAxis, int[] keep, double[] mean, double scale)
    {
        var outputAxis = 1 - Math.Min(inputAxis, 1); // Conv [O, I, k...] and Gemm transB [O, I]: 0; Gemm [I, O]: 1
        var outputs = (int)weight.Dims[outputAxis];
        var inputs = (int)weight.Dims[inputAxis];
        if (mean.Length != inputs) return;
        var perKernel = (int)(weight.ElementCount / outputs / inputs);
        var kept = new bool[inputs];
        foreach (var k in keep) kept[k] = true;
        var w = weight.Floats;
        var delta = new double[outputs];
        for (var o = 0; o < outputs; o++)
            for (var i = 0; i < inputs; i++)
            {
                if (kept[i] || mean[i] == 0) continue;
                var sum = 0.0;
                for (var k = 0; k < perKernel; k++) sum += w[outputAxis == 0 ? (o * inputs + i) * perKernel + k : i * outputs + o];
                delta[o] += scale * mean[i] * sum;
            }
        if (graph.FindInitializer(node.Input(2)) is { } bias)
        {
            if (bias.Type != ElementType.Float || bias.ElementCount != outputs) return; // a broadcast bias cannot take per-output terms
            var updated = Tensor.FromFloats(bias.Name, bias.Dims, bias.Floats);
            for (var o = 0; o < outputs; o++) updated.Floats[o] += (float)delta[o];
            Replace(graph, node, 2, updated);
        }
        else
        {
            var name = graph.AddInitializer(Tensor.FromFloats(graph.UniqueName(node.Name + "_slim_bias"), [outputs], delta.Select(d => (float)d).ToArray()));
            while (node.Inputs.Count < 2) node.Inputs.Add("");
            if (node.Inputs.Count == 2) node.Inputs.Add(name); else node.Inputs[2] = name;
        }
    }

    static int[] Positions(int[] ids, Func<int, bool> keeps) => Enumerable.Range(0, ids.Length).Where(p => keeps(ids[p])).ToArray();

    // Replaces input `index` of `node` with `tensor`: in place when nothing else reads the old one, else under a new name.
    static void Replace(ModelGraph graph, Node node, int index, Tensor tensor)
    {
        var old = node.Inputs[index];
        var shared = graph.Nodes.Count(n => n.Inputs.Contains(old)) > 1;
        tensor.Name = shared ? graph.UniqueName(old + "_slim") : old;
        graph.Initializers[tensor.Name] = tensor;
        node.Inputs[index] = tensor.Name;
    }

    // Keeps the given indices along `axis`.
    static Tensor Slice(Tensor tensor, int axis, int[] keep)
    {
        if (keep.Length == tensor.Dims[axis]) return new Tensor(tensor.Name, tensor.Type, tensor.Dims, tensor.Data);
        var size = ElementTypes.SizeOf(tensor.Type);
        var outer = (int)tensor.Dims.Take(axis).Aggregate(1L, (a, b) => a * b);
        var inner = (int)tensor.Dims.Skip(axis + 1).Aggregate(1L, (a, b) => a * b) * size;
        var length = (int)tensor.Dims[axis];
        var data = new byte[outer * keep.Length * inner];
        for (var o = 0; o < outer; o++)
            for (var k = 0; k < keep.Length; k++)
                Array.Copy(tensor.Data, (o * length + keep[k]) * inner, data, (o * keep.Length + k) * inner, inner);
        var dims = tensor.Dims.ToArray();
        dims[axis] = keep.Length;
        return new Tensor(tensor.Name, tensor.Type, dims, data);
    }
}

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
/// <param name="Criterion">How channels were ranked: <see cref="NetworkSlimming.GammaCriterion"/> or <see cref="NetworkSlimming.VarianceCriterion"/>.</param>
public sealed record SlimmingReport(int ChannelsBefore, int ChannelsAfter, long ParametersBefore, long ParametersAfter,
    IReadOnlyDictionary<string, (int Kept, int Of)> KeptPerLayer, IReadOnlyList<string> Pinned, string Criterion);

/// <summary>
/// Network slimming (Liu et al., ICCV 2017): channels are ranked, one global threshold removes the
/// least important <c>ratio</c> of the prunable channels, and removal is physical: the conv's output
/// channels, the BatchNorm entries, and the input channels (or feature columns) of every consumer
/// shrink, so the result is a smaller dense model. Coupled channels (residual Add, depthwise conv) go
/// together; see <see cref="ChannelGraph"/>.
/// <para>The ranking is |gamma| of the BatchNorm scaling a channel, as in the paper, when the model
/// comes without calibration statistics (after sparsity training gammas are what separates channels).
/// With statistics (<see cref="Measure"/>), a channel's importance is the share of each consumer's
/// input energy it carries, var(channel) x |consumer weights on it|^2 over the sum for that consumer,
/// summed over consumers: the channel's mean goes to the consumers' biases, so its variance is what
/// removal loses. This needs no BatchNorm (a model exported with BN folded works the same), and the
/// share makes layers of different scale comparable under one threshold, as LAMP does for weights.</para>
/// </summary>
public static class NetworkSlimming
{
    /// <summary>The paper's ranking: the largest |gamma| any BatchNorm gives a channel.</summary>
    public const string GammaCriterion = "batchnorm-gamma";
    /// <summary>The post-training ranking: a channel's share of its consumers' input energy, measured on calibration images.</summary>
    public const string VarianceCriterion = "consumer-variance-share";

    /// <summary>
    /// The moments of every tensor slimming may take channels from (each Conv's and each flattened
    /// Gemm/MatMul's input), measured on <paramref name="calibration"/>; infers the model's shapes in place.
    /// </summary>
    public static Dictionary<string, ChannelMoments> Measure(OnnxModel model, Data.ImageDataset calibration)
    {
        model.Graph.ValueInfos.Clear();
        ShapeInference.Apply(model.Graph);
        var channels = new ChannelGraph(model.Graph);
        return ChannelStatistics.Measure(model, Consumers(model.Graph, channels).Select(c => c.Channels).ToHashSet(StringComparer.Ordinal), calibration);
    }

    /// <summary>Slims <paramref name="model"/> in place, removing about <paramref name="ratio"/> of the prunable channels.</summary>
    /// <param name="model">The float model, BatchNorms in.</param>
    /// <param name="ratio">The fraction of prunable channels to remove.</param>
    /// <param name="moments">What <see cref="Measure"/> gave for this model: channels are then ranked by <see cref="VarianceCriterion"/>
    /// and each consumer takes over what the channels it loses carried (<see cref="ConsumerCompensation"/>). Without them, channels are ranked by
    /// <see cref="GammaCriterion"/> and what they carried is lost (unless fine-tuning recovers it).</param>
    /// <param name="channelMultiple">What each conv keeps is rounded to a multiple of this (or all its channels); see
    /// <see cref="ChannelMultiple"/>. 1 removes exactly the ranking's choice.</param>
    public static SlimmingReport Apply(OnnxModel model, double ratio, IReadOnlyDictionary<string, ChannelMoments>? moments = null, int channelMultiple = ChannelMultiple)
    {
        if (ratio is < 0 or >= 1) throw new ModelBuildException(ErrorCodes.InvalidSetting, $"the channel ratio must be in [0, 1), not {ratio}");
        var graph = model.Graph;
        graph.ValueInfos.Clear();
        ShapeInference.Apply(graph);
        var channels = new ChannelGraph(graph);
        var spaces = channels.Spaces;
        var parametersBefore = graph.ParameterCount;

        var importance = moments is null ? GammaImportance(graph, channels) : VarianceImportance(graph, channels, moments);
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
        if (channelMultiple > 1) RoundToMultiple(channels, spaces, importance, remove, channelMultiple);
        var kept = spaces.ToDictionary(s => s.Key,
            s => Enumerable.Range(0, s.Value).Where(i => !remove.Contains(channels.Group(channels.Element(s.Key, i)))).ToArray(), StringComparer.Ordinal);
        bool Keeps(int element) => !remove.Contains(channels.Group(element));

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
                    if (inKeep is not null && moments?.GetValueOrDefault(node.Inputs[0]) is { } convInput)
                        ConsumerCompensation.Apply(graph, node, inputAxis: 1, inKeep, convInput, biasScale: 1);
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
                case "Reshape" when channels.Flattened.TryGetValue(node.Outputs[0], out var reshaped) && graph.FindInitializer(node.Input(1))!.ToInt64s() is [-1, _]:
                    // [-1, features] names the feature count, which falls with the channels.
                    Replace(graph, node, 1, Tensor.FromInt64s("", [2], [-1, Positions(reshaped.Ids, Keeps).Length * featuresPerChannel[node.Outputs[0]]]));
                    break;
                case "Gemm" or "MatMul" when channels.Flattened.TryGetValue(node.Inputs[0], out var flat):
                {
                    var perChannel = featuresPerChannel[node.Inputs[0]];
                    var keptChannels = Positions(flat.Ids, Keeps);
                    var keep = keptChannels.SelectMany(c => Enumerable.Range((int)(c * perChannel), (int)perChannel)).ToArray();
                    var axis = node.OpType == "Gemm" && node.GetInt("transB", 0) == 1 ? 1 : 0; // the input-feature axis
                    if (graph.FindInitializer(node.Input(1))!.Dims.Length == 2 && moments?.GetValueOrDefault(flat.Input) is { } features)
                        ConsumerCompensation.Apply(graph, node, axis, keptChannels, features,
                            node.OpType == "Gemm" && node.GetFloat("beta", 1) != 0 ? node.GetFloat("alpha", 1) / node.GetFloat("beta", 1) : null);
                    Replace(graph, node, 1, Slice(graph.FindInitializer(node.Input(1))!, axis, keep));
                    break;
                }
            }
        }

        graph.ValueInfos.Clear();
        ShapeInference.Apply(graph);
        var perLayer = spaces.ToDictionary(s => s.Key, s => (kept[s.Key].Length, s.Value), StringComparer.Ordinal);
        return new SlimmingReport(spaces.Values.Sum(), kept.Values.Sum(k => k.Length), parametersBefore, graph.ParameterCount, perLayer, channels.PinReasons,
            moments is null ? GammaCriterion : VarianceCriterion);
    }

    /// <summary>
    /// The channel counts slimming leaves in a conv of 16 channels or more: a multiple of this, or all of them. ONNX Runtime runs an int8
    /// convolution on its fast kernels (MLAS's symmetric convolution: requantization fused, no im2col copy) only when
    /// its input and output channel counts are multiples of 4 (of 8 for the output on AVX2) and it has 16 outputs or
    /// more; any other count takes im2col and a generic GEMM, 1.5-3x slower per multiply-add at 28x28 on 2 cores.
    /// A multiple of 8 is fast on every x86-64 CPU (and on ARM64's kernels too).
    /// </summary>
    public const int ChannelMultiple = 8;

    // Rounds what each conv output of 16 channels or more keeps to the nearest multiple (never to none, never above its
    // size), by restoring its most important removed groups or removing its least important kept
    // candidates. Coupled spaces share their groups, so rounding one rounds them all alike.
    static void RoundToMultiple(ChannelGraph channels, IReadOnlyDictionary<string, int> spaces, IReadOnlyDictionary<int, double> importance, HashSet<int> remove, int multiple)
    {
        foreach (var (space, size) in spaces.OrderBy(s => s.Key, StringComparer.Ordinal))
        {
            var groups = Enumerable.Range(0, size).Select(i => channels.Group(channels.Element(space, i))).Distinct().ToList();
            var kept = groups.Count(g => !remove.Contains(g));
            if (kept == groups.Count) continue;
            if (groups.Count < 2 * multiple) continue; // below 16 channels no fast kernel takes the layer anyway: slim it exactly
            var target = Math.Min(groups.Count, Math.Max(multiple, (int)Math.Round(kept / (double)multiple, MidpointRounding.AwayFromZero) * multiple));
            if (target > kept)
                foreach (var g in groups.Where(remove.Contains).OrderByDescending(g => importance.GetValueOrDefault(g)).ThenBy(g => g).Take(target - kept).ToList())
                    remove.Remove(g);
            else if (target < kept)
                foreach (var g in groups.Where(g => !remove.Contains(g) && importance.ContainsKey(g) && !channels.IsPinned(g))
                             .OrderBy(g => importance[g]).ThenBy(g => g).Take(kept - target).ToList())
                    remove.Add(g);
        }
    }

    // Per group: the largest |gamma| any BatchNorm gives one of its channels (groups without a BatchNorm are no candidates).
    static Dictionary<int, double> GammaImportance(ModelGraph graph, ChannelGraph channels)
    {
        var importance = new Dictionary<int, double>();
        foreach (var bn in graph.Nodes.Where(n => n.OpType == "BatchNormalization"))
        {
            if (channels.CompositionOf(bn.Inputs[0]) is not { } ids || graph.FindInitializer(bn.Input(1)) is not { } gamma) continue;
            for (var p = 0; p < ids.Length; p++)
            {
                var group = channels.Group(ids[p]);
                importance[group] = Math.Max(importance.GetValueOrDefault(group), Math.Abs(gamma.Floats[p]));
            }
        }
        return importance;
    }

    // Per group: over its consumers, the share of the consumer's input energy (variance x squared weights) its channels carry.
    static Dictionary<int, double> VarianceImportance(ModelGraph graph, ChannelGraph channels, IReadOnlyDictionary<string, ChannelMoments> moments)
    {
        var importance = new Dictionary<int, double>();
        foreach (var (node, ids, inputAxis, tensor) in Consumers(graph, channels))
        {
            if (moments.GetValueOrDefault(tensor) is not { } m || graph.FindInitializer(node.Input(1)) is not { Type: ElementType.Float } w) continue;
            var inputs = (int)w.Dims[inputAxis];
            if (m.Channels != ids.Length || inputs % ids.Length != 0) continue;
            var squares = InputSquares(w, inputAxis);
            var energy = new double[ids.Length];
            var perChannel = inputs / ids.Length; // a flattened channel is a block of features
            for (var i = 0; i < inputs; i++) energy[i / perChannel] += m.Variance(i / perChannel) * squares[i];
            var total = energy.Sum();
            if (total <= 0) continue;
            for (var p = 0; p < ids.Length; p++)
            {
                var group = channels.Group(ids[p]);
                importance[group] = importance.GetValueOrDefault(group) + energy[p] / total;
            }
        }
        return importance;
    }

    // Sum of squared weights per input (over outputs and kernel positions).
    static double[] InputSquares(Tensor weight, int inputAxis)
    {
        var inputs = (int)weight.Dims[inputAxis];
        var outer = (int)weight.Dims.Take(inputAxis).Aggregate(1L, (a, b) => a * b);
        var inner = (int)(weight.ElementCount / outer / inputs);
        var w = weight.Floats;
        var squares = new double[inputs];
        for (var o = 0; o < outer; o++)
            for (var i = 0; i < inputs; i++)
                squares[i] += System.Numerics.Tensors.TensorPrimitives.SumOfSquares(w.Slice((o * inputs + i) * inner, inner));
        return squares;
    }

    // The nodes that read channels through their weights: dense Convs, and Gemm/MatMul on flattened channels
    // (with the channels' element ids, the weight's input axis and the 4-D tensor that carries the channels).
    static IEnumerable<(Node Node, int[] Ids, int InputAxis, string Channels)> Consumers(ModelGraph graph, ChannelGraph channels)
    {
        foreach (var node in graph.Nodes)
        {
            if (node.OpType == "Conv" && node.GetInt("group", 1) == 1 && channels.CompositionOf(node.Inputs[0]) is { } ids)
                yield return (node, ids, 1, node.Inputs[0]);
            else if (node.OpType is "Gemm" or "MatMul" && channels.Flattened.TryGetValue(node.Inputs[0], out var flat))
                yield return (node, flat.Ids, node.OpType == "Gemm" && node.GetInt("transB", 0) == 1 ? 1 : 0, flat.Input);
        }
    }

    static int[] Positions(int[] ids, Func<int, bool> keeps) => Enumerable.Range(0, ids.Length).Where(p => keeps(ids[p])).ToArray();

    // Replaces input `index` of `node` with `tensor`: in place when nothing else reads the old one, else under a new name.
    internal static void Replace(ModelGraph graph, Node node, int index, Tensor tensor)
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

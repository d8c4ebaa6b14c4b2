using ModelBuildTasks.Graph;

namespace ModelBuildTasks.Passes.Slimming;

/// <summary>
/// Which channels of a graph must be kept or removed together (the dependency graph of
/// Torch-Pruning, over the engine's IR). Every Conv's output channels form a <em>space</em>; every
/// 4-D activation is described by a composition: the list of space channels it carries, in order
/// (Concat concatenates compositions; elementwise ops, BatchNorm and pools pass them through). An
/// Add couples its inputs' channels position by position, and a depthwise Conv couples each input
/// channel with its output channel, so coupled channels fall in one group (union-find). A channel
/// that reaches an operator this analysis cannot follow (a graph output, an unknown op, a grouped
/// conv, a reshape to explicit sizes) is pinned: never removed, and reported.
/// </summary>
public sealed class ChannelGraph
{
    readonly ModelGraph graph;
    readonly Dictionary<string, int> spaceStart = new(StringComparer.Ordinal); // conv output -> first element id
    readonly Dictionary<string, int[]> composition = new(StringComparer.Ordinal); // tensor -> element ids
    readonly List<int> parent = [];
    readonly HashSet<int> pinned = [];
    readonly List<string> reasons = [];

    /// <summary>Analyses <paramref name="graph"/> (which must have shapes: run shape inference first).</summary>
    public ChannelGraph(ModelGraph graph)
    {
        this.graph = graph;
        foreach (var node in graph.Nodes) Visit(node);
        foreach (var output in graph.Outputs)
        {
            if (composition.TryGetValue(output.Name, out var ids)) Pin(ids, $"graph output '{output.Name}'");
            if (Flattened.TryGetValue(output.Name, out var flat)) Pin(flat.Ids, $"graph output '{output.Name}'"); // SqueezeNet's classes
        }
    }

    /// <summary>Conv output tensors whose channels can be pruned, with their channel counts.</summary>
    public IReadOnlyDictionary<string, int> Spaces => spaceStart.ToDictionary(kv => kv.Key, kv => SpaceSize(kv.Key), StringComparer.Ordinal);

    /// <summary>Why channels were pinned (one line per cause).</summary>
    public IReadOnlyList<string> PinReasons => reasons;

    /// <summary>The element ids a tensor carries, or null when it has no channel composition.</summary>
    public int[]? CompositionOf(string tensor) => composition.GetValueOrDefault(tensor);

    /// <summary>The group (union-find root) of an element.</summary>
    public int Group(int element)
    {
        while (parent[element] != element) element = parent[element] = parent[parent[element]];
        return element;
    }

    /// <summary>True when the element's group may not be removed.</summary>
    public bool IsPinned(int element) => pinned.Contains(Group(element));

    /// <summary>The element id of channel <paramref name="index"/> of the conv output <paramref name="space"/>.</summary>
    public int Element(string space, int index) => spaceStart[space] + index;

    int SpaceSize(string space) => composition[space].Length;

    void Visit(Node node)
    {
        int[]? In(int i) => node.Input(i) is { } name ? composition.GetValueOrDefault(name) : null;
        void Out(int[] ids) => composition[node.Outputs[0]] = ids;
        var channelInputs = node.Inputs.Where(i => i.Length > 0 && composition.ContainsKey(i)).ToList();

        switch (node.OpType)
        {
            case "Conv":
            {
                var weights = graph.FindInitializer(node.Input(1));
                var group = node.GetInt("group", 1);
                var outChannels = (int)(weights?.Dims[0] ?? 0);
                if (weights is null || outChannels == 0) { PinInputs(node, "a Conv without constant weights"); return; }
                var start = parent.Count;
                for (var i = 0; i < outChannels; i++) parent.Add(start + i);
                spaceStart[node.Outputs[0]] = start;
                var ids = Enumerable.Range(start, outChannels).ToArray();
                Out(ids);
                if (In(0) is { } input && group > 1)
                {
                    if (group == input.Length && group == outChannels)
                        for (var i = 0; i < outChannels; i++) Union(input[i], ids[i]); // depthwise: channel i in -> channel i out
                    else { Pin(input, $"grouped {node}"); Pin(ids, $"grouped {node}"); }
                }
                return;
            }
            case "BatchNormalization" or "Relu" or "Clip" or "LeakyRelu" or "Sigmoid" or "HardSigmoid" or "HardSwish" or "Dropout" or "Identity"
                or "MaxPool" or "AveragePool" or "GlobalAveragePool" or "GlobalMaxPool" or "QuantizeLinear" or "DequantizeLinear":
            case "ReduceMean" when IsSpatialMean(node):
                if (In(0) is { } passed) Out(passed);
                else if (Flattened.TryGetValue(node.Inputs[0], out var flat))
                {
                    // Features pass an identity unchanged to the Gemm after it; anything else would need its own slicing.
                    if (node.OpType is "Identity" or "Dropout") Flattened[node.Outputs[0]] = flat;
                    else Pin(flat.Ids, $"{node} reading flattened channels");
                }
                return;
            case "Add" or "Mul" or "Div" or "PRelu": // PRelu: x, or x times its slope below zero
            {
                var a = In(0);
                var b = In(1);
                if (a is not null && b is not null)
                {
                    if (a.Length != b.Length) { Pin(a, $"{node} with unequal channels"); Pin(b, $"{node} with unequal channels"); return; }
                    for (var i = 0; i < a.Length; i++) Union(a[i], b[i]);
                    Out(a);
                }
                else if ((a ?? b) is { } one)
                {
                    // One side is a constant: fine when it does not vary by channel.
                    var constant = graph.FindInitializer(a is null ? node.Input(0) : node.Input(1));
                    if (constant is null || !BroadcastsOverChannels(constant)) { Pin(one, $"{node} with a per-channel operand"); return; }
                    Out(one);
                }
                return;
            }
            case "Concat" when node.GetInt("axis", 1) is 1 or -3:
                if (node.Inputs.All(i => composition.ContainsKey(i))) Out(node.Inputs.SelectMany(i => composition[i]).ToArray());
                else PinInputs(node, $"{node} mixing channel tensors with others");
                return;
            case "Flatten" when node.GetInt("axis", 1) == 1:
            case "Reshape" when IsFlattenReshape(node):
                // Channels become features: a following Gemm/MatMul can drop their columns (handled on removal),
                // when the size of each channel's block of features is known.
                if (In(0) is { } flattened)
                {
                    var shape = graph.ValueInfos.TryGetValue(node.Inputs[0], out var info) ? info.Shape : null;
                    if (shape is { Rank: 4 } && shape[2].IsKnown && shape[3].IsKnown) Flattened[node.Outputs[0]] = (node.Inputs[0], flattened);
                    else Pin(flattened, $"{node} of a tensor whose spatial size is unknown");
                }
                return;
            case "Gemm" or "MatMul" when Flattened.ContainsKey(node.Inputs[0]) && graph.FindInitializer(node.Input(1)) is not null
                && (node.OpType == "MatMul" || node.GetInt("transA", 0) == 0):
                return;
            default:
                if (channelInputs.Count > 0) PinInputs(node, $"{node} ({node.OpType} is not followed by the channel analysis)");
                foreach (var input in node.Inputs)
                    if (Flattened.TryGetValue(input, out var flat)) Pin(flat.Ids, $"{node} reading flattened channels");
                return;
        }
    }

    /// <summary>Flatten/Reshape outputs that carry channels as features: output -> (4-D input, its composition).</summary>
    internal Dictionary<string, (string Input, int[] Ids)> Flattened { get; } = new(StringComparer.Ordinal);

    bool IsFlattenReshape(Node node) =>
        graph.FindInitializer(node.Input(1))?.ToInt64s() is [0, -1] or [-1, _] && composition.ContainsKey(node.Inputs[0]);

    // A squeeze-and-excite squeeze written as ReduceMean over H and W with the axes kept: a GlobalAveragePool.
    bool IsSpatialMean(Node node) =>
        node.GetInt("keepdims", 1) == 1 && graph.ValueInfos.TryGetValue(node.Inputs[0], out var info) && info.Shape is { Rank: 4 }
        && Shapes.OperatorRules.ReduceAxes(node, graph.FindInitializer, 4) is [2, 3];

    static bool BroadcastsOverChannels(Tensor constant) =>
        constant.ElementCount == 1 || constant.Dims.Length == 4 && constant.Dims[1] == 1;

    void PinInputs(Node node, string reason)
    {
        foreach (var input in node.Inputs)
            if (composition.TryGetValue(input, out var ids)) Pin(ids, reason);
    }

    void Pin(int[] ids, string reason)
    {
        if (ids.Length == 0) return;
        foreach (var id in ids) pinned.Add(Group(id));
        if (!reasons.Contains(reason)) reasons.Add(reason);
    }

    void Union(int a, int b)
    {
        var ra = Group(a);
        var rb = Group(b);
        if (ra == rb) return;
        var pinnedEither = pinned.Contains(ra) || pinned.Contains(rb);
        parent[rb] = ra;
        if (pinnedEither) pinned.Add(ra);
    }
}

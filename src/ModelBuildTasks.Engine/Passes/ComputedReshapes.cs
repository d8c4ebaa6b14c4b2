using ModelBuildTasks.Graph;
using ModelBuildTasks.Shapes;

namespace ModelBuildTasks.Passes;

/// <summary>
/// Makes a Reshape whose target is computed from tensor shapes a Reshape to a constant. PyTorch traces sizes read in
/// <c>forward</c> into shape arithmetic when the batch is dynamic: <c>x.view(x.size(0), -1)</c> becomes Shape, Gather,
/// Unsqueeze and Concat; ShuffleNet's channel shuffle, <c>x.view(n, groups, c // groups, h, w)</c>, a Div too. With
/// the shapes inferred, every size but the batch is a number, and the batch can be written as ONNX's 0 (copy the
/// input's dimension there) or -1 (what the rest leaves). The target is evaluated once for every batch size: only
/// Shape, Gather, Slice, Unsqueeze, Squeeze, Concat, Cast, Identity and integer arithmetic on known sizes are followed.
/// A symbolic size is written as 0 only when it is the Reshape's own input's dimension at the same place (read by a
/// Shape of that very tensor: inference keeps a symbol on some axes whose size changes, a slice's or a pad's), else as
/// the one -1, which holds whenever the original target does; any other target stays as it is (refused as
/// unsupported). The shape arithmetic nobody reads any more goes. A graph with subgraphs (If, Loop), whose nodes may
/// read these values, is left alone.
/// </summary>
public static class ComputedReshapes
{
    // A size in shape arithmetic: a number, or one not known before run time (the batch), with the tensor and axis it was read from.
    readonly record struct Size(long Value, string? Tensor = null, int Axis = -1)
    {
        public bool IsKnown => Tensor is null;
    }

    // An int64 tensor of rank 0 or 1, its items.
    sealed record Sizes(Size[] Items, bool Scalar);

    /// <summary>Rewrites in place; returns how many Reshapes got a constant target.</summary>
    public static int Apply(ModelGraph graph)
    {
        if (graph.HasSubgraphs) return 0;
        var rewritten = 0;
        var evaluated = new HashSet<string>(StringComparer.Ordinal);
        // A Reshape's input may come from one rewritten before (a channel shuffle's second view): its shape is known only
        // then, so the shapes are inferred again after each round that rewrote any.
        while (true)
        {
            var reshapes = graph.Nodes.Where(n => n.OpType == "Reshape" && n.Domain is "" or "ai.onnx" && n.Inputs.Count >= 2
                && graph.FindInitializer(n.Inputs[1]) is null && n.GetInt("allowzero", 0) == 0).ToList();
            if (reshapes.Count == 0) break;
            IReadOnlyDictionary<string, ValueInfo> shapes;
            try
            {
                shapes = ShapeInference.Infer(graph).Values;
            }
            catch (ModelBuildException)
            {
                break; // an inconsistent graph: its check, later, names the node
            }
            var evaluator = new Evaluator(graph, shapes);
            var round = 0;
            foreach (var reshape in reshapes)
            {
                if (evaluator.Evaluate(reshape.Inputs[1]) is not { Scalar: false } target
                    || Constant(target.Items, reshape.Inputs[0]) is not { } values) continue;
                reshape.Inputs[1] = graph.AddInitializer(Tensor.FromInt64s(graph.UniqueName(reshape.Name + "_shape"), [values.Length], values));
                round++;
            }
            evaluated.UnionWith(evaluator.Evaluated);
            if (round == 0) break;
            rewritten += round;
        }
        if (rewritten == 0) return 0;
        RemoveUnread(graph, evaluated);
        UnusedInitializers.Remove(graph);
        return rewritten;
    }

    // The constant target: numbers as they are (0 and -1 keep their meaning), a symbolic size as 0 where it is `data`'s own
    // dimension at the same place, else as the one -1 (the original's target is valid, so what the rest leaves is that size).
    static long[]? Constant(Size[] target, string data)
    {
        var values = new long[target.Length];
        var inferred = target.Any(s => s.IsKnown && s.Value == -1);
        for (var i = 0; i < target.Length; i++)
        {
            if (target[i].IsKnown) values[i] = target[i].Value;
            else if (target[i].Tensor == data && target[i].Axis == i) values[i] = 0;
            else if (!inferred) (values[i], inferred) = (-1, true);
            else return null;
        }
        return values;
    }

    // Shape arithmetic nobody reads any more (the evaluated nodes), removed until none is left: a node goes when the last
    // reader of its outputs went, so a chain goes in one walk.
    static void RemoveUnread(ModelGraph graph, IReadOnlySet<string> evaluated)
    {
        var readers = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var name in graph.Nodes.SelectMany(n => n.Inputs).Concat(graph.Outputs.Select(o => o.Name)))
            readers[name] = readers.GetValueOrDefault(name) + 1;
        var producers = graph.Nodes.SelectMany(n => n.Outputs.Select(o => (o, n))).ToDictionary(p => p.o, p => p.n, StringComparer.Ordinal);
        bool Unread(Node node) => node.Outputs.All(evaluated.Contains) && node.Outputs.All(o => readers.GetValueOrDefault(o) == 0);
        var removed = new HashSet<Node>();
        var pending = new Stack<Node>(graph.Nodes.Where(Unread));
        while (pending.TryPop(out var node))
        {
            if (!removed.Add(node)) continue;
            foreach (var input in node.Inputs)
                if (readers.ContainsKey(input) && --readers[input] == 0 && producers.GetValueOrDefault(input) is { } producer && Unread(producer))
                    pending.Push(producer);
        }
        graph.Nodes.RemoveAll(removed.Contains);
        foreach (var output in removed.SelectMany(n => n.Outputs)) graph.ValueInfos.Remove(output);
    }

    // Evaluates int64 values of rank 0 or 1 from constants and inferred shapes; null where it cannot for every batch size.
    sealed class Evaluator(ModelGraph graph, IReadOnlyDictionary<string, ValueInfo> shapes)
    {
        readonly Dictionary<string, Sizes?> known = new(StringComparer.Ordinal);

        // Node outputs evaluated: the shape arithmetic that may go once nothing reads it.
        public HashSet<string> Evaluated { get; } = new(StringComparer.Ordinal);

        public Sizes? Evaluate(string value)
        {
            if (known.TryGetValue(value, out var done)) return done;
            known[value] = null; // a cycle evaluates to nothing
            var result = Compute(value);
            known[value] = result;
            if (result is not null && graph.Producer(value) is not null) Evaluated.Add(value);
            return result;
        }

        Sizes? Compute(string value)
        {
            if (graph.FindInitializer(value) is { } tensor)
                return tensor.Type is ElementType.Int64 or ElementType.Int32 && tensor.Dims.Length <= 1
                    ? new Sizes([.. tensor.ToInt64s().Select(v => new Size(v))], tensor.Dims.Length == 0)
                    : null;
            if (graph.Producer(value) is not { Domain: "" or "ai.onnx", Outputs.Count: 1 } node) return null;
            switch (node.OpType)
            {
                case "Shape":
                {
                    if (shapes.GetValueOrDefault(node.Inputs[0])?.Shape is not { } shape) return null;
                    // A size inference does not know (the batch) is recorded by where it was read: only that is sure of it.
                    var dims = shape.Dims.Select((d, axis) => d.IsKnown ? new Size(d.Value) : new Size(0, node.Inputs[0], axis)).ToList();
                    var rank = dims.Count;
                    var (start, end) = (Clamp(node.GetInt("start", 0), rank), Clamp(node.GetInt("end", rank), rank));
                    return new Sizes([.. dims.Skip(start).Take(Math.Max(0, end - start))], false);
                }
                case "Identity" or "Cast" when node.OpType == "Identity" || node.GetInt("to", 0) is (long)ElementType.Int64 or (long)ElementType.Int32:
                    return Evaluate(node.Inputs[0]);
                case "Gather" when node.GetInt("axis", 0) == 0 && Evaluate(node.Inputs[0]) is { Scalar: false } from
                    && graph.FindInitializer(node.Input(1)) is { Type: ElementType.Int64 or ElementType.Int32, Dims.Length: <= 1 } indices:
                {
                    var picked = new List<Size>();
                    foreach (var index in indices.ToInt64s())
                    {
                        var i = index < 0 ? index + from.Items.Length : index;
                        if (i < 0 || i >= from.Items.Length) return null;
                        picked.Add(from.Items[i]);
                    }
                    return new Sizes([.. picked], indices.Dims.Length == 0);
                }
                case "Unsqueeze" when Evaluate(node.Inputs[0]) is { Scalar: true } scalar
                    && (node.GetInts("axes") ?? graph.FindInitializer(node.Input(1))?.ToInt64s()) is [0] or [-1]:
                    return scalar with { Scalar = false };
                case "Squeeze" when Evaluate(node.Inputs[0]) is { Scalar: false, Items.Length: 1 } single
                    && (node.GetInts("axes") ?? graph.FindInitializer(node.Input(1))?.ToInt64s() ?? [0]) is [0] or [-1]:
                    return single with { Scalar = true };
                case "Concat" when node.GetInt("axis", 0) is 0 or -1:
                {
                    var parts = node.Inputs.Select(Evaluate).ToList();
                    return parts.All(p => p is { Scalar: false }) ? new Sizes([.. parts.SelectMany(p => p!.Items)], false) : null;
                }
                case "Slice" when Evaluate(node.Inputs[0]) is { Scalar: false } from:
                {
                    long Single(int input, long fallback) =>
                        node.Input(input) is null ? fallback : graph.FindInitializer(node.Input(input))?.ToInt64s() is [var v] ? v : long.MinValue;
                    var (start, end, axis, step) = (Single(1, 0), Single(2, long.MaxValue), Single(3, 0), Single(4, 1));
                    if (node.Inputs.Count < 3 || start == long.MinValue || end == long.MinValue || axis is not (0 or -1) || step != 1) return null;
                    var n = from.Items.Length;
                    var (s, e) = (Clamp(start, n), Clamp(end, n));
                    return new Sizes([.. from.Items.Skip(s).Take(Math.Max(0, e - s))], false);
                }
                case "Mul" or "Div" or "Add" or "Sub":
                {
                    if (Evaluate(node.Inputs[0]) is not { } a || Evaluate(node.Inputs[1]) is not { } b) return null;
                    var length = Math.Max(a.Items.Length, b.Items.Length);
                    if (a.Items.Length != length && a.Items.Length != 1 || b.Items.Length != length && b.Items.Length != 1) return null;
                    var items = new Size[length];
                    for (var i = 0; i < length; i++)
                    {
                        var (x, y) = (a.Items[a.Items.Length == 1 ? 0 : i], b.Items[b.Items.Length == 1 ? 0 : i]);
                        if (!x.IsKnown || !y.IsKnown || node.OpType == "Div" && y.Value == 0) return null; // the batch in arithmetic: not one number
                        // ONNX's integer Div truncates toward zero, as C# does.
                        items[i] = new Size(node.OpType switch { "Mul" => x.Value * y.Value, "Div" => x.Value / y.Value, "Add" => x.Value + y.Value, _ => x.Value - y.Value });
                    }
                    return new Sizes(items, a.Scalar && b.Scalar);
                }
                default:
                    return null;
            }
        }

        // ONNX's clamping of a start or end index into [0, n].
        static int Clamp(long index, int n) => (int)Math.Clamp(index < 0 ? index + n : index, 0, n);
    }
}

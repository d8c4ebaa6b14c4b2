using ModelBuildTasks.Graph;

namespace ModelBuildTasks.Shapes;

/// <summary>
/// The operators the engine supports, each with its shape rule. This table is the single list of
/// supported operators: anything not in it is reported as unsupported.
/// </summary>
public static class OperatorRules
{
    delegate IReadOnlyList<ValueInfo?> Rule(ShapeContext c);

    static readonly Dictionary<string, Rule> Rules = new(StringComparer.Ordinal)
    {
        ["Conv"] = Conv,
        ["BatchNormalization"] = c => [c.Like(0, c.Shape(0))],
        ["Relu"] = SameAsInput,
        ["Clip"] = SameAsInput,
        ["LeakyRelu"] = SameAsInput,
        ["Sigmoid"] = SameAsInput,
        ["HardSigmoid"] = SameAsInput,
        ["HardSwish"] = SameAsInput,
        ["Softmax"] = SameAsInput,
        ["LogSoftmax"] = SameAsInput,
        ["Squeeze"] = Squeeze,
        ["Unsqueeze"] = Unsqueeze,
        ["Identity"] = SameAsInput,
        ["Dropout"] = c => [c.Like(0, c.Shape(0)), new ValueInfo("", ElementType.Bool, c.Shape(0))],
        ["MaxPool"] = c => [Pool(c), new ValueInfo("", ElementType.Int64, Pool(c).Shape)],
        ["AveragePool"] = c => [Pool(c)],
        ["GlobalAveragePool"] = GlobalPool,
        ["GlobalMaxPool"] = GlobalPool,
        ["ReduceMean"] = ReduceMean,
        ["Transpose"] = Transpose,
        ["Split"] = Split,
        ["Slice"] = Slice,
        ["Add"] = Broadcast,
        ["Mul"] = Broadcast,
        ["Div"] = Broadcast,
        ["PRelu"] = SameAsInput,
        ["Concat"] = Concat,
        ["Flatten"] = Flatten,
        ["Reshape"] = Reshape,
        ["Gemm"] = Gemm,
        ["MatMul"] = MatMul,
        ["Pad"] = Pad,
        ["QuantizeLinear"] = c => [new ValueInfo("", c.Has(2) ? c.Input(2).Type : ElementType.UInt8, c.Shape(0))],
        ["DequantizeLinear"] = c => [new ValueInfo("", ElementType.Float, c.Shape(0))],
        ["Constant"] = c => ConstantValue(c.Node) is { } t ? [new ValueInfo("", t.Type, t.Shape)] : throw c.Fail("has no supported value attribute"),
    };

    /// <summary>The names of all supported operators (default ONNX domain).</summary>
    public static IReadOnlyCollection<string> Supported => Rules.Keys;

    /// <summary>True when the node's operator is supported.</summary>
    public static bool IsSupported(Node node) => node.Domain is "" or "ai.onnx" && Rules.ContainsKey(node.OpType);

    /// <summary>Infers the node's output types; entries may be null where an output's type is not known.</summary>
    public static IReadOnlyList<ValueInfo?> Infer(ShapeContext context) => Rules[context.Node.OpType](context);

    /// <summary>The tensor a Constant node produces, or null if its value attribute is of another kind.</summary>
    public static Tensor? ConstantValue(Node node)
    {
        if (node.Attributes.TryGetValue("value", out var v) && v.Tensor is { } t) return t;
        if (node.Attributes.TryGetValue("value_float", out var f)) return Tensor.FromFloats("", [], [f.Float]);
        if (node.Attributes.TryGetValue("value_floats", out var fs)) return Tensor.FromFloats("", [fs.Floats.Length], fs.Floats);
        if (node.Attributes.TryGetValue("value_int", out var i)) return Tensor.FromInt64s("", [], [i.Int]);
        if (node.Attributes.TryGetValue("value_ints", out var ins)) return Tensor.FromInt64s("", [ins.Ints.Length], ins.Ints);
        return null;
    }

    static IReadOnlyList<ValueInfo?> SameAsInput(ShapeContext c) => [c.Like(0, c.Shape(0))];

    static IReadOnlyList<ValueInfo?> Conv(ShapeContext c)
    {
        var x = c.Shape(0);
        var w = c.Shape(1);
        if (x.Rank < 3 || w.Rank != x.Rank) throw c.Fail($"input {x} and weights {w} must have the same rank of 3 or more");
        var group = c.Node.GetInt("group", 1);
        if (group is < 1 or > int.MaxValue) throw c.Fail($"group {group} must be 1 or more");
        if (x[1].IsKnown && w[1].IsKnown && x[1].Value != w[1].Value * group)
            throw c.Fail($"input has {x[1]} channels but the weights {w} with group {group} expect {w[1].Value * group}");
        var kernel = c.Node.GetInts("kernel_shape") ?? w.Dims.Skip(2).Select(d => d.Value).ToArray();
        var spatial = Spatial(c, x, kernel);
        return [c.Like(0, new TensorShape(new[] { x[0], w[0] }.Concat(spatial)))];
    }

    static ValueInfo Pool(ShapeContext c)
    {
        var x = c.Shape(0);
        var kernel = c.Node.GetInts("kernel_shape") ?? throw c.Fail("has no kernel_shape");
        if (x.Rank != kernel.Length + 2) throw c.Fail($"kernel_shape has {kernel.Length} dimensions for input {x}");
        return c.Like(0, new TensorShape(new[] { x[0], x[1] }.Concat(Spatial(c, x, kernel))));
    }

    // The output size of a sliding window, shared by Conv and the pools.
    static IEnumerable<Dim> Spatial(ShapeContext c, TensorShape x, long[] kernel)
    {
        var n = kernel.Length;
        var strides = c.Node.GetInts("strides") ?? Enumerable.Repeat(1L, n).ToArray();
        var dilations = c.Node.GetInts("dilations") ?? Enumerable.Repeat(1L, n).ToArray();
        var pads = c.Node.GetInts("pads") ?? new long[2 * n];
        var autoPad = c.Node.GetString("auto_pad", "NOTSET");
        var ceil = c.Node.GetInt("ceil_mode", 0) == 1;
        if (strides.Length != n || dilations.Length != n || pads.Length != 2 * n)
            throw c.Fail("strides, dilations or pads do not match the kernel's rank");
        // Crafted attributes: a stride of 0 divides by zero, and huge values overflow the window arithmetic.
        const long MaxExtent = int.MaxValue;
        if (strides.Any(v => v is < 1 or > MaxExtent) || dilations.Any(v => v is < 1 or > MaxExtent))
            throw c.Fail($"strides [{string.Join(",", strides)}] and dilations [{string.Join(",", dilations)}] must be 1 to {MaxExtent}");
        if (pads.Any(v => v is < 0 or > MaxExtent) || kernel.Any(v => v == 0 || v > MaxExtent))
            throw c.Fail($"pads [{string.Join(",", pads)}] and kernel [{string.Join(",", kernel)}] are out of range");
        for (var i = 0; i < n; i++)
        {
            var input = x[i + 2];
            if (!input.IsKnown || kernel[i] < 0) { yield return Dim.Unknown; continue; }
            if (autoPad is "SAME_UPPER" or "SAME_LOWER")
            {
                yield return Dim.Of((input.Value + strides[i] - 1) / strides[i]);
                continue;
            }
            var padded = input.Value + (autoPad == "VALID" ? 0 : pads[i] + pads[i + n]);
            var window = (kernel[i] - 1) * dilations[i] + 1;
            if (padded < window) throw c.Fail($"window {window} is larger than the padded input {padded} on axis {i + 2}");
            var steps = ceil ? (padded - window + strides[i] - 1) / strides[i] : (padded - window) / strides[i];
            yield return Dim.Of(steps + 1);
        }
    }

    static IReadOnlyList<ValueInfo?> GlobalPool(ShapeContext c)
    {
        var x = c.Shape(0);
        return [c.Like(0, new TensorShape(new[] { x[0], x[1] }.Concat(Enumerable.Repeat(Dim.Of(1), x.Rank - 2))))];
    }

    /// <summary>The axes a ReduceMean averages (an attribute before opset 18, an input from 18), normalised; null when computed at run time.</summary>
    public static long[]? ReduceAxes(Node node, Func<string, Tensor?> constant, int rank)
    {
        var axes = node.GetInts("axes") ?? (node.Input(1) is { } name ? constant(name)?.ToInt64s() : []);
        if (axes is null) return null;
        if (axes.Length == 0) return node.GetInt("noop_with_empty_axes", 0) == 1 ? [] : Enumerable.Range(0, rank).Select(i => (long)i).ToArray();
        return [.. axes.Select(a => a < 0 ? a + rank : a).Order()];
    }

    static IReadOnlyList<ValueInfo?> ReduceMean(ShapeContext c)
    {
        var x = c.Shape(0);
        var axes = ReduceAxes(c.Node, name => c.Node.Input(1) == name ? c.Constant(1) : null, x.Rank);
        if (axes is null) throw c.Fail("has axes computed at run time");
        if (axes.Any(a => a < 0 || a >= x.Rank) || axes.Distinct().Count() != axes.Length) throw c.Fail($"axes [{string.Join(",", axes)}] do not fit {x}");
        var keep = c.Node.GetInt("keepdims", 1) == 1;
        var dims = x.Dims.Select((d, i) => (d, i)).Where(p => keep || !axes.Contains(p.i)).Select(p => axes.Contains(p.i) ? Dim.Of(1) : p.d);
        return [c.Like(0, new TensorShape(dims))];
    }

    // The axes of a Squeeze or Unsqueeze (an attribute before opset 13, an input from 13), normalised against `rank`.
    static long[]? SqueezeAxes(ShapeContext c, int rank)
    {
        var axes = c.Node.GetInts("axes") ?? (c.Node.Input(1) is { Length: > 0 } ? c.Constant(1)?.ToInt64s() ?? throw c.Fail("has axes computed at run time") : null);
        if (axes is null) return null;
        var normalised = axes.Select(a => a < 0 ? a + rank : a).ToArray();
        if (normalised.Any(a => a < 0 || a >= rank) || normalised.Distinct().Count() != normalised.Length) throw c.Fail($"axes [{string.Join(",", axes)}] do not fit rank {rank}");
        return normalised;
    }

    static IReadOnlyList<ValueInfo?> Squeeze(ShapeContext c)
    {
        var x = c.Shape(0);
        // Without axes every axis of size 1 goes, the batch too when a single image runs: the output's rank would depend on the batch.
        var axes = SqueezeAxes(c, x.Rank)
            ?? throw c.Fail("has no axes, so a batch of one image would lose its batch axis too: export x.squeeze(2).squeeze(2), or x.flatten(1), instead of x.squeeze()");
        if (axes.Any(a => x[(int)a] is { IsKnown: true, Value: not 1 })) throw c.Fail($"squeezes an axis of {x} whose size is not 1");
        return [c.Like(0, new TensorShape(x.Dims.Where((_, i) => !axes.Contains(i))))];
    }

    static IReadOnlyList<ValueInfo?> Unsqueeze(ShapeContext c)
    {
        var x = c.Shape(0);
        var count = c.Node.GetInts("axes")?.Length ?? c.Constant(1)?.ElementCount ?? throw c.Fail("has axes computed at run time");
        var rank = x.Rank + (int)count;
        var axes = SqueezeAxes(c, rank) ?? throw c.Fail("has no axes");
        var dims = new List<Dim>();
        var next = 0;
        for (var i = 0; i < rank; i++) dims.Add(axes.Contains(i) ? Dim.Of(1) : x[next++]);
        return [c.Like(0, new TensorShape(dims))];
    }

    static IReadOnlyList<ValueInfo?> Transpose(ShapeContext c)
    {
        var x = c.Shape(0);
        var perm = c.Node.GetInts("perm") ?? Enumerable.Range(0, x.Rank).Reverse().Select(i => (long)i).ToArray();
        if (perm.Length != x.Rank || perm.Order().Where((p, i) => p != i).Any()) throw c.Fail($"perm [{string.Join(",", perm)}] is not a permutation of {x}'s axes");
        return [c.Like(0, new TensorShape(perm.Select(p => x[(int)p])))];
    }

    /// <summary>The sizes a Split cuts <paramref name="length"/> into: its split input (attribute before opset 13), num_outputs (opset 18, the last part smaller) or equal parts.</summary>
    public static long[] SplitSizes(Node node, Func<string, Tensor?> constant, long length)
    {
        if (node.GetInts("split") is { } attribute) return attribute;
        if (node.Input(1) is { } name) return constant(name)?.ToInt64s() ?? throw new ModelBuildException(ErrorCodes.InvalidGraph, $"{node}: split sizes computed at run time");
        var parts = node.Attributes.ContainsKey("num_outputs") ? node.GetInt("num_outputs", 1) : node.Outputs.Count;
        var size = (length + parts - 1) / parts;
        return [.. Enumerable.Range(0, (int)parts).Select(i => Math.Max(0, Math.Min(size, length - i * size)))];
    }

    static IReadOnlyList<ValueInfo?> Split(ShapeContext c)
    {
        var x = c.Shape(0);
        var axis = (int)Normalize(c, c.Node.GetInt("axis", 0), x.Rank);
        if (!x[axis].IsKnown) return [.. c.Node.Outputs.Select(_ => (ValueInfo?)null)];
        var sizes = SplitSizes(c.Node, name => c.Node.Input(1) == name ? c.Constant(1) : null, x[axis].Value);
        if (sizes.Length != c.Node.Outputs.Count || sizes.Any(s => s < 0) || sizes.Sum() != x[axis].Value)
            throw c.Fail($"split sizes [{string.Join(",", sizes)}] do not cut axis {axis} of {x} into {c.Node.Outputs.Count} parts");
        return [.. sizes.Select(size => c.Like(0, new TensorShape(x.Dims.Select((d, i) => i == axis ? Dim.Of(size) : d))))];
    }

    static IReadOnlyList<ValueInfo?> Slice(ShapeContext c)
    {
        var x = c.Shape(0);
        var starts = c.Constant(1)?.ToInt64s();
        var ends = c.Constant(2)?.ToInt64s();
        var axes = c.Has(3) ? c.Constant(3)?.ToInt64s() : starts is null ? null : [.. Enumerable.Range(0, starts.Length).Select(i => (long)i)];
        var steps = c.Has(4) ? c.Constant(4)?.ToInt64s() : starts?.Select(_ => 1L).ToArray();
        if (starts is null || ends is null || axes is null || steps is null) throw c.Fail("has starts, ends, axes or steps computed at run time");
        if (ends.Length != starts.Length || axes.Length != starts.Length || steps.Length != starts.Length || steps.Contains(0))
            throw c.Fail("starts, ends, axes and steps must have one non-zero entry per sliced axis");
        var dims = x.Dims.ToArray();
        for (var i = 0; i < axes.Length; i++)
        {
            var axis = (int)Normalize(c, axes[i], x.Rank);
            if (!dims[axis].IsKnown) continue;
            var n = dims[axis].Value;
            long Clamp(long v, long low, long high) => Math.Clamp(v < 0 ? v + n : v, low, high);
            var count = steps[i] > 0
                ? (Clamp(ends[i], 0, n) - Clamp(starts[i], 0, n) + steps[i] - 1) / steps[i]
                : (Clamp(starts[i], -1, n - 1) - Clamp(ends[i], -1, n - 1) - steps[i] - 1) / -steps[i];
            dims[axis] = Dim.Of(Math.Max(0, count));
        }
        return [c.Like(0, new TensorShape(dims))];
    }

    static IReadOnlyList<ValueInfo?> Broadcast(ShapeContext c)
    {
        var a = c.Shape(0);
        var b = c.Shape(1);
        var rank = Math.Max(a.Rank, b.Rank);
        var dims = new Dim[rank];
        for (var i = 0; i < rank; i++)
        {
            var da = i < rank - a.Rank ? Dim.Of(1) : a[i - (rank - a.Rank)];
            var db = i < rank - b.Rank ? Dim.Of(1) : b[i - (rank - b.Rank)];
            if (da.IsKnown && da.Value == 1) dims[i] = db;
            else if (db.IsKnown && db.Value == 1) dims[i] = da;
            else if (da.IsKnown && db.IsKnown && da.Value != db.Value) throw c.Fail($"cannot broadcast {a} with {b}");
            else dims[i] = da.IsKnown ? da : db;
        }
        return [c.Like(0, new TensorShape(dims))];
    }

    static IReadOnlyList<ValueInfo?> Concat(ShapeContext c)
    {
        var shapes = Enumerable.Range(0, c.Node.Inputs.Count).Select(c.Shape).ToList();
        var rank = shapes[0].Rank;
        var axis = (int)Normalize(c, c.Node.GetInt("axis", 1), rank);
        var dims = shapes[0].Dims.ToArray();
        var total = 0L;
        foreach (var s in shapes)
        {
            if (s.Rank != rank) throw c.Fail($"inputs have different ranks ({shapes[0]} and {s})");
            for (var i = 0; i < rank; i++)
                if (i != axis && s[i].IsKnown && dims[i].IsKnown && s[i].Value != dims[i].Value)
                    throw c.Fail($"inputs {shapes[0]} and {s} differ outside axis {axis}");
            total = total < 0 || !s[axis].IsKnown ? -1 : total + s[axis].Value;
        }
        dims[axis] = total < 0 ? Dim.Unknown : Dim.Of(total);
        return [c.Like(0, new TensorShape(dims))];
    }

    static IReadOnlyList<ValueInfo?> Flatten(ShapeContext c)
    {
        var x = c.Shape(0);
        var axis = c.Node.GetInt("axis", 1);
        if (axis < 0) axis += x.Rank;
        if (axis < 0 || axis > x.Rank) throw c.Fail($"axis {c.Node.GetInt("axis", 1)} is out of range for {x}");
        return [c.Like(0, new TensorShape([Product(x.Dims.Take((int)axis)), Product(x.Dims.Skip((int)axis))]))];
    }

    static Dim Product(IEnumerable<Dim> dims)
    {
        var list = dims.ToList();
        if (list.Count == 0) return Dim.Of(1);
        if (list.All(d => d.IsKnown)) return Dim.Of(list.Aggregate(1L, (n, d) => n * d.Value));
        // A lone symbol times ones stays that symbol (a flattened batch axis keeps its name).
        var unknown = list.Where(d => !d.IsKnown).ToList();
        return unknown.Count == 1 && list.Where(d => d.IsKnown).All(d => d.Value == 1) ? unknown[0] : Dim.Unknown;
    }

    static IReadOnlyList<ValueInfo?> Reshape(ShapeContext c)
    {
        var x = c.Shape(0);
        var constant = c.Constant(1);
        if (constant is { Dims.Length: not 1 }) throw c.Fail("the target shape is not a vector");
        var target = constant?.ToInt64s();
        if (target is null)
            return c.Shape(1) is { Rank: 1 } computed
                ? [c.Like(0, new TensorShape(Enumerable.Repeat(Dim.Unknown, (int)(computed[0].Value is var r and >= 0 ? r : 0))))]
                : throw c.Fail("the target shape is not a vector");
        var allowZero = c.Node.GetInt("allowzero", 0) == 1;
        var dims = new Dim[target.Length];
        var inferred = -1;
        for (var i = 0; i < target.Length; i++)
        {
            if (target[i] == 0 && !allowZero)
                dims[i] = i < x.Rank ? x[i] : throw c.Fail($"shape copies axis {i}, which input {x} does not have");
            else if (target[i] == -1)
            {
                if (inferred >= 0) throw c.Fail("shape has more than one -1");
                inferred = i;
            }
            else if (target[i] < 0) throw c.Fail($"shape has an invalid size {target[i]}");
            else dims[i] = Dim.Of(target[i]);
        }
        if (inferred >= 0)
        {
            // Unknown input dims copied by a 0 cancel out, so [N,C,H,W] -> [0,-1] still resolves.
            var remaining = x.Dims.ToList();
            var known = 1L;
            foreach (var d in dims.Where((_, i) => i != inferred))
            {
                if (d.IsKnown) { known *= d.Value; continue; }
                var same = remaining.FindIndex(r => r == d && d.Symbol is not null);
                if (same >= 0) remaining.RemoveAt(same); else { known = -1; break; }
            }
            var rest = Product(remaining);
            // [N,16,7,7] -> [-1,784]: the known dims account for the given sizes exactly, so -1 is the lone symbol left.
            var unknowns = remaining.Where(d => !d.IsKnown).ToList();
            var lone = unknowns.Count == 1 && known > 0 && remaining.Where(d => d.IsKnown).Aggregate(1L, (n, d) => n * d.Value) == known;
            dims[inferred] = known > 0 && rest.IsKnown
                ? rest.Value % known == 0 ? Dim.Of(rest.Value / known) : throw c.Fail($"cannot reshape {x} to [{string.Join(",", target)}]")
                : lone ? unknowns[0] : Dim.Unknown;
        }
        if (x.ElementCount is { } inCount && dims.All(d => d.IsKnown) && dims.Aggregate(1L, (n, d) => n * d.Value) != inCount)
            throw c.Fail($"cannot reshape {x} to [{string.Join(",", target)}]");
        return [c.Like(0, new TensorShape(dims))];
    }

    static IReadOnlyList<ValueInfo?> Gemm(ShapeContext c)
    {
        var a = c.Shape(0);
        var b = c.Shape(1);
        if (a.Rank != 2 || b.Rank != 2) throw c.Fail($"needs 2-D inputs, not {a} and {b}");
        var transA = c.Node.GetInt("transA", 0) == 1;
        var transB = c.Node.GetInt("transB", 0) == 1;
        var (m, ka) = transA ? (a[1], a[0]) : (a[0], a[1]);
        var (kb, n) = transB ? (b[1], b[0]) : (b[0], b[1]);
        if (ka.IsKnown && kb.IsKnown && ka.Value != kb.Value) throw c.Fail($"inner dimensions differ: {a} x {b} (transA={transA}, transB={transB})");
        return [c.Like(0, new TensorShape([m, n]))];
    }

    static IReadOnlyList<ValueInfo?> MatMul(ShapeContext c)
    {
        var a = c.Shape(0);
        var b = c.Shape(1);
        if (a.Rank < 1 || b.Rank < 1) throw c.Fail("needs inputs of rank 1 or more");
        var ad = a.Rank == 1 ? new[] { Dim.Of(1), a[0] } : a.Dims.ToArray();
        var bd = b.Rank == 1 ? new[] { b[0], Dim.Of(1) } : b.Dims.ToArray();
        var k1 = ad[^1];
        var k2 = bd[^2];
        if (k1.IsKnown && k2.IsKnown && k1.Value != k2.Value) throw c.Fail($"inner dimensions differ: {a} x {b}");
        var batchA = ad[..^2];
        var batchB = bd[..^2];
        var rank = Math.Max(batchA.Length, batchB.Length);
        var batch = new List<Dim>();
        for (var i = 0; i < rank; i++)
        {
            var da = i < rank - batchA.Length ? Dim.Of(1) : batchA[i - (rank - batchA.Length)];
            var db = i < rank - batchB.Length ? Dim.Of(1) : batchB[i - (rank - batchB.Length)];
            batch.Add(da.IsKnown && da.Value == 1 ? db : da);
        }
        if (a.Rank > 1) batch.Add(ad[^2]);
        if (b.Rank > 1) batch.Add(bd[^1]);
        return [c.Like(0, new TensorShape(batch))];
    }

    static IReadOnlyList<ValueInfo?> Pad(ShapeContext c)
    {
        var x = c.Shape(0);
        long[]? pads = c.Has(1) ? c.Constant(1)?.ToInt64s() : c.Node.GetInts("pads");
        if (pads is null) return [c.Like(0, new TensorShape(Enumerable.Repeat(Dim.Unknown, x.Rank)))];
        var axes = c.Has(3) ? c.Constant(3)?.ToInt64s() : Enumerable.Range(0, x.Rank).Select(i => (long)i).ToArray();
        if (axes is null) return [c.Like(0, new TensorShape(Enumerable.Repeat(Dim.Unknown, x.Rank)))];
        if (pads.Length != 2 * axes.Length) throw c.Fail($"has {pads.Length} pads for {axes.Length} axes");
        var dims = x.Dims.ToArray();
        for (var i = 0; i < axes.Length; i++)
        {
            var axis = (int)Normalize(c, axes[i], x.Rank);
            if (dims[axis].IsKnown) dims[axis] = Dim.Of(dims[axis].Value + pads[i] + pads[i + axes.Length]);
        }
        return [c.Like(0, new TensorShape(dims))];
    }

    static long Normalize(ShapeContext c, long axis, int rank) =>
        axis >= -rank && axis < rank ? (axis + rank) % rank : throw c.Fail($"axis {axis} is out of range for rank {rank}");
}

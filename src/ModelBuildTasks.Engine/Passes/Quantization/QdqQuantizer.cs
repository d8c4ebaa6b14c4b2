using System.Runtime.InteropServices;
using ModelBuildTasks.Data;
using ModelBuildTasks.Graph;
using ModelBuildTasks.Shapes;

namespace ModelBuildTasks.Passes.Quantization;

/// <summary>What quantization did.</summary>
/// <param name="Bits">Weight bits.</param>
/// <param name="QuantizedWeights">Conv/Gemm/MatMul weight tensors turned into int8.</param>
/// <param name="QuantizedActivations">Activation tensors given a QuantizeLinear/DequantizeLinear pair.</param>
/// <param name="FoldedBatchNorms">BatchNorms folded into convolutions first.</param>
public sealed record QuantizationReport(int Bits, int QuantizedWeights, int QuantizedActivations, int FoldedBatchNorms);

/// <summary>
/// Post-training integer quantization to standard ONNX QDQ (opset 13), laid out so ONNX Runtime
/// fuses it into integer kernels (QLinearConv, QLinearAdd, ...):
/// <list type="bullet">
/// <item>weights of Conv, Gemm and MatMul: per output channel, symmetric, <c>b</c> &lt;= 7 bits in int8 (<see cref="PortableGrid"/>: the same predictions on every CPU), via <c>DequantizeLinear(axis)</c>;</item>
/// <item>biases: int32 with scale = input scale x weight scale (a float bias blocks fusion);</item>
/// <item>activations: uint8 with calibrated ranges (signed activations leave convolutions unfused on x86);</item>
/// <item>no Q/DQ between a Conv/Add and the Relu after it: the Relu's output range starts at 0, so
/// its zero point is 0 and ONNX Runtime absorbs the Relu.</item>
/// <item>zero channels added where ONNX Runtime's fast int8 convolutions need them (<see cref="ChannelPadding"/>), and
/// a grey or RGB input copied into patches or padded with zero channels (<see cref="InputPatches"/>), so that the
/// first convolution runs on ONNX Runtime's fast int8 kernels too.</item>
/// <item>average pools over tiling windows as depthwise convolutions (<see cref="AveragePoolAsDepthwiseConv"/>), and one
/// range shared by a Concat's inputs and output where that costs at most half a bit, so that ONNX Runtime copies them.</item>
/// </list>
/// </summary>
public static class QdqQuantizer
{
    static readonly HashSet<string> ComputeOps = ["Conv", "Gemm", "MatMul", "Add", "Concat", "MaxPool", "AveragePool", "GlobalAveragePool"];
    static readonly HashSet<string> Activations = ["Relu", "Clip"];

    /// <summary>Returns a quantized copy of <paramref name="model"/>; the input model is not changed.</summary>
    /// <param name="model">The float model.</param>
    /// <param name="calibration">Preprocessed calibration images (typically the validation data).</param>
    /// <param name="options">Bits and calibration settings.</param>
    /// <param name="hessians">For <see cref="QuantizationOptions.ErrorCompensation"/>: H blocks already measured on this model (BatchNorm folded, before pruning); measured here when null.</param>
    public static (OnnxModel Model, QuantizationReport Report) Quantize(OnnxModel model, ImageDataset calibration, QuantizationOptions? options = null, LayerHessians? hessians = null)
    {
        options ??= new QuantizationOptions();
        if (options.Bits < 2 || !PortableGrid.IsPortable(options.Bits))
            throw new ModelBuildException(ErrorCodes.InvalidSetting, $"quantization bits must be 2 to {PortableGrid.MaxBits}, not {options.Bits} (wider weights give different predictions on AVX2 CPUs without VNNI)");
        if (options.LayerBits.FirstOrDefault(kv => kv.Value < 2 || kv.Value > options.Bits) is { Key: { } wrong, Value: var layerBits })
            throw new ModelBuildException(ErrorCodes.InvalidSetting, $"layer '{wrong}' cannot have {layerBits} bits: a layer's grid is 2 bits up to the model's ({options.Bits})");
        var (q, folded) = Folded(model);
        var images = Sample(calibration, options.MaxCalibrationImages, seed: 7);
        if (options.ErrorCompensation) hessians ??= MeasureHessians(q, calibration);
        // Deep compression prunes the weights the model will actually use (BatchNorm folded in), before calibration sees them;
        // compensation needs their values from before.
        var dense = options.ErrorCompensation && options.PruneRatio > 0
            ? Pruning.MagnitudePruning.PrunableWeights(q.Graph).ToDictionary(t => t.Name, t => t.Floats.ToArray(), StringComparer.Ordinal)
            : null;
        if (options.PruneRatio > 0) Pruning.MagnitudePruning.Apply(q.Graph, options.PruneRatio, options.PruningScope);
        if (hessians is not null && options.ErrorCompensation) ErrorCompensation.Apply(q.Graph, hessians, options.BitsOf, dense, options.SharedLevels, options.KeepFloat);
        var graph = q.Graph;
        // After pruning and rounding, which must never touch them: the BatchNorms left unfolded become integer convolutions.
        BatchNormAsDepthwiseConv.Apply(graph);
        // Neither rewriting pools (into Convs, never in the region) nor padding channels (same nodes) changes the region.
        var floatRegion = FloatRegion(graph, options.KeepFloat);
        AveragePoolAsDepthwiseConv.Apply(graph, keep: floatRegion);
        GlobalMaxPoolAsMaxPool.Apply(graph, keep: floatRegion);
        if (options.PadChannels) ChannelPadding.Apply(graph);

        var tensors = ActivationsToQuantize(graph, floatRegion);
        var ranges = Calibrator.Calibrate(q, tensors, images, options.Calibration, options.Percentile);
        ShareConcatRanges(graph, ranges, floatRegion);

        var activations = tensors.Count(tensor => InsertQdq(graph, tensor, ranges[tensor], floatRegion));

        var weights = 0;
        foreach (var node in graph.Nodes.Where(n => n.OpType is "Conv" or "Gemm" or "MatMul" && !IsKeptFloat(n, options.KeepFloat)).ToList())
            if (QuantizeWeights(graph, node, options.BitsOf(node.Inputs[1]), options.SharedLevels)) weights++;
        InputPatches.Apply(graph);

        graph.ValueInfos.Clear(); // types changed; ONNX Runtime infers its own
        q.ProducerName = "ModelBuildTasks";
        return (q, new QuantizationReport(options.Bits, weights, activations, folded));
    }

    /// <summary>A copy of <paramref name="model"/> at opset 13 or later with its BatchNorms folded and its shapes inferred: what the quantizer works on.</summary>
    /// <returns>The copy and the number of BatchNorms folded.</returns>
    public static (OnnxModel Model, int FoldedBatchNorms) Folded(OnnxModel model)
    {
        var q = OnnxImport.ToModel(OnnxExport.ToProto(model));
        OpsetUpgrade.Apply(q);
        var folded = BatchNormFolding.Apply(q.Graph);
        q.Graph.ValueInfos.Clear();
        ShapeInference.Apply(q.Graph);
        return (q, folded);
    }

    /// <summary>
    /// H blocks of <paramref name="model"/> (<see cref="Folded"/>) for error compensation, on
    /// at most 512 of <paramref name="images"/> (64 for large images, see <see cref="Sample"/>).
    /// </summary>
    public static LayerHessians MeasureHessians(OnnxModel model, ImageDataset images) =>
        LayerHessians.Collect(model, Sample(images, 512, seed: 11));

    // At most `limit` images, 64 for images over 100,000 values: a 224x224 image already holds
    // thousands of receptive fields, and each image costs a hundred times a 28x28 one.
    static ImageDataset Sample(ImageDataset images, int limit, int seed)
    {
        if (images.ImageSize > 100_000) limit = Math.Min(limit, 64);
        return images.Count > limit ? DatasetSplit.Sample(images, limit, seed) : images;
    }

    // Float activation tensors that feed or leave an op with an integer kernel. A tensor consumed
    // only by a Relu is skipped in favour of the Relu's output; graph outputs stay float.
    static List<string> ActivationsToQuantize(ModelGraph graph, IReadOnlySet<Node> floatRegion)
    {
        var result = new List<string>();
        void Add(string name)
        {
            if (name.Length == 0 || graph.Initializers.ContainsKey(name) || graph.IsOutput(name) || result.Contains(name)) return;
            var consumers = graph.Consumers(name).ToList();
            if (consumers.Count == 1 && Activations.Contains(consumers[0].OpType) && IsNonNegativeActivation(graph, consumers[0]))
            {
                Add(consumers[0].Outputs[0]);
                return;
            }
            if (!IsFloat(graph, name)) return;
            result.Add(name);
        }
        foreach (var node in graph.Nodes.Where(n => ComputeOps.Contains(n.OpType)))
        {
            if (floatRegion.Contains(node)) { Add(node.Outputs[0]); continue; }
            var dataInputs = node.OpType is "Conv" or "Gemm" or "MatMul" ? node.Inputs.Take(1) : node.Inputs;
            foreach (var input in dataInputs) Add(input);
            // A Gemm or MatMul whose result reaches no integer op (a classifier's last layer, before the output or a
            // Softmax) keeps a float result: ONNX Runtime runs it as QGemm or MatMulIntegerToFloat with a float output,
            // one DequantizeLinear fewer per run, and the logits are not rounded to 8 bits. A Conv needs its Q to run
            // as QLinearConv at all.
            if (node.OpType is "Gemm" or "MatMul" && !ReachesIntegerOp(graph, node.Outputs[0], floatRegion)) continue;
            Add(node.Outputs[0]);
        }
        return result;
    }

    // Whether `tensor` flows, through any ops, into an op that runs on integers.
    static bool ReachesIntegerOp(ModelGraph graph, string tensor, IReadOnlySet<Node> floatRegion)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<string>([tensor]);
        while (pending.TryPop(out var name))
        {
            if (!seen.Add(name)) continue;
            foreach (var consumer in graph.Consumers(name))
            {
                if (ComputeOps.Contains(consumer.OpType) && !floatRegion.Contains(consumer)) return true;
                foreach (var output in consumer.Outputs) pending.Push(output);
            }
        }
        return false;
    }

    // The layers kept float and every node that feeds only them (a ReLU, a pool, a flatten before them): their
    // values stay float. ONNX Runtime quantizes the float weights of a layer fed by a DequantizeLinear (per tensor,
    // to fuse it), and moves a DequantizeLinear forward through pools and reshapes, so a Q/DQ anywhere on a kept
    // layer's input path would undo keeping it float.
    static HashSet<Node> FloatRegion(ModelGraph graph, IReadOnlySet<string> keepFloat)
    {
        var region = graph.Nodes.Where(n => IsKeptFloat(n, keepFloat)).ToHashSet();
        if (region.Count == 0) return region;
        var consumers = new Dictionary<string, List<Node>>(StringComparer.Ordinal);
        foreach (var node in graph.Nodes)
            foreach (var input in node.Inputs)
                (consumers.TryGetValue(input, out var list) ? list : consumers[input] = []).Add(node);
        // Walking back, every consumer of a node is decided before the node when the nodes are in topological
        // order (one pass and a confirming one); the loop also settles any other order.
        for (var grew = true; grew;)
        {
            grew = false;
            for (var i = graph.Nodes.Count - 1; i >= 0; i--)
            {
                var node = graph.Nodes[i];
                if (region.Contains(node) || node.OpType is "Conv" or "Gemm" or "MatMul" || node.Outputs.Any(graph.IsOutput)) continue;
                var readers = node.Outputs.SelectMany(o => consumers.GetValueOrDefault(o) ?? []).ToList();
                if (readers.Count > 0 && readers.All(region.Contains)) grew |= region.Add(node);
            }
        }
        return region;
    }

    /// <summary>True when <paramref name="node"/> is a layer whose weights are in <paramref name="keepFloat"/> (none when null).</summary>
    internal static bool IsKeptFloat(Node node, IReadOnlySet<string>? keepFloat) =>
        keepFloat is { Count: > 0 } && node.OpType is "Conv" or "Gemm" or "MatMul" && node.Input(1) is { } w && keepFloat.Contains(w);

    // The inputs and output of an integer Concat, over chains of Concats as in a dense block, share one range where
    // that costs each of them at most half a bit: ONNX Runtime's QLinearConcat then copies an input instead of
    // requantizing it byte by byte through a lookup table (a quarter of the DenseNet sample's time at batch 64). A
    // tensor whose own range is under 1/sqrt(2) of the shared one keeps its own, and that input alone is requantized:
    // on the DenseNet sample, sharing regardless of range cost 3 points (its stem features span a seventh of their
    // block's range), up to a bit 0.14, up to half a bit nothing measurable (92.52% at 7 bits either way).
    static void ShareConcatRanges(ModelGraph graph, Dictionary<string, ActivationRange> ranges, IReadOnlySet<Node> floatRegion)
    {
        var links = new List<(string, string)>();
        foreach (var concat in graph.Nodes.Where(n => n.OpType == "Concat" && !floatRegion.Contains(n)))
        {
            if (!concat.Inputs.Append(concat.Outputs[0]).All(ranges.ContainsKey)) continue; // a float input or output: the Concat stays float anyway
            links.AddRange(concat.Inputs.Select(input => (input, concat.Outputs[0])));
        }
        foreach (var group in Connected(links.SelectMany(l => new[] { l.Item1, l.Item2 }).ToHashSet(StringComparer.Ordinal), links)) Share(group);

        // The members within half a bit of the group's range share it; the others, regrouped by the links left
        // between them, are shared the same way among themselves.
        void Share(List<string> group)
        {
            var span = group.Max(t => ranges[t].Max) - group.Min(t => ranges[t].Min);
            var close = group.Where(t => Math.Sqrt(2) * (ranges[t].Max - ranges[t].Min) >= span).ToList();
            if (close.Count > 1)
            {
                var union = new ActivationRange(close.Min(t => ranges[t].Min), close.Max(t => ranges[t].Max));
                foreach (var tensor in close) ranges[tensor] = union;
            }
            var rest = group.Except(close).ToHashSet(StringComparer.Ordinal);
            foreach (var part in Connected(rest, links)) Share(part);
        }
    }

    // The connected components of `members` under the links whose both ends are members (single members dropped).
    static IEnumerable<List<string>> Connected(HashSet<string> members, List<(string A, string B)> links)
    {
        var parent = members.ToDictionary(m => m, m => m, StringComparer.Ordinal);
        string Find(string x) => parent[x] == x ? x : parent[x] = Find(parent[x]);
        foreach (var (a, b) in links)
            if (members.Contains(a) && members.Contains(b)) parent[Find(a)] = Find(b);
        return members.GroupBy(Find, StringComparer.Ordinal).Select(g => g.ToList()).Where(g => g.Count > 1).ToList();
    }

    static bool IsNonNegativeActivation(ModelGraph graph, Node node) =>
        node.OpType == "Relu" || node.OpType == "Clip" && graph.FindInitializer(node.Input(1)) is { Type: ElementType.Float } min && min.Floats[0] >= 0;

    static bool IsFloat(ModelGraph graph, string name) =>
        graph.Inputs.FirstOrDefault(i => i.Name == name) is { } input ? input.Type == ElementType.Float
        : !graph.ValueInfos.TryGetValue(name, out var info) || info.Type == ElementType.Float;

    // value -> QuantizeLinear -> DequantizeLinear -> every former consumer outside the float region (which reads
    // the value itself); nothing when all of them are inside it.
    static bool InsertQdq(ModelGraph graph, string value, ActivationRange range, IReadOnlySet<Node> floatRegion)
    {
        var consumers = graph.Consumers(value).Where(c => !floatRegion.Contains(c)).ToList();
        if (consumers.Count == 0) return false;
        var scale = (range.Max - range.Min) / 255f;
        if (scale <= 0) scale = 1f;
        var zeroPoint = (byte)Math.Clamp(MathF.Round(-range.Min / scale), 0, 255);
        var scaleName = graph.AddInitializer(Tensor.FromFloats(graph.UniqueName(value + "_scale"), [], [scale]));
        var zeroName = graph.AddInitializer(new Tensor(graph.UniqueName(value + "_zero_point"), ElementType.UInt8, [], [zeroPoint]));
        var quantized = graph.UniqueName(value + "_quantized");
        var dequantized = graph.UniqueName(value + "_dequantized");
        var qNode = new Node(quantized, "QuantizeLinear", [value, scaleName, zeroName], [quantized]);
        var dqNode = new Node(dequantized, "DequantizeLinear", [quantized, scaleName, zeroName], [dequantized]);
        foreach (var consumer in consumers)
            for (var i = 0; i < consumer.Inputs.Count; i++)
                if (consumer.Inputs[i] == value) consumer.Inputs[i] = dequantized;
        var producer = graph.Producer(value);
        var at = producer is null ? 0 : graph.Nodes.IndexOf(producer) + 1;
        graph.Nodes.InsertRange(at, [qNode, dqNode]);
        return true;
    }

    // One weight per output channel (a BatchNorm as a depthwise 1x1 conv) is exact on any per-channel grid: level +-4,
    // scale |w| / 4. A power of two keeps the scale's mantissa the weight's (short, see BatchNormAsDepthwiseConv), and
    // the int32 bias on a step of a quarter of the weight times the input's step, about a quarter of the output's.
    static (sbyte[] Values, float[] Scales) OneWeightPerChannel(ReadOnlySpan<float> weights)
    {
        var values = new sbyte[weights.Length];
        var scales = new float[weights.Length];
        for (var c = 0; c < weights.Length; c++)
        {
            values[c] = (sbyte)(weights[c] == 0 ? 0 : weights[c] < 0 ? -4 : 4); // a zero weight (gamma 0, a padded channel) stays zero
            scales[c] = weights[c] == 0 ? 1 : Math.Abs(weights[c]) / 4;
        }
        return (values, scales);
    }

    static bool QuantizeWeights(ModelGraph graph, Node node, int bits, int sharedLevels)
    {
        if (WeightQuantization.OutputAxis(graph, node) is not { } axis) return false;
        var weights = graph.FindInitializer(node.Input(1))!;
        var (values, scales) = weights.ElementCount == weights.Dims[axis]
            ? OneWeightPerChannel(weights.Floats)
            : WeightQuantization.PerChannel(weights.Floats, weights.Dims, axis, bits);
        if (sharedLevels > 0) WeightSharing.GridKMeans.Apply(values, sharedLevels);
        var channels = scales.Length;

        var baseName = weights.Name;
        graph.Initializers.Remove(baseName);
        var qName = graph.AddInitializer(new Tensor(graph.UniqueName(baseName + "_quantized"), ElementType.Int8, weights.Dims, MemoryMarshal.AsBytes(values.AsSpan()).ToArray()));
        var sName = graph.AddInitializer(Tensor.FromFloats(graph.UniqueName(baseName + "_scale"), [channels], scales));
        // Symmetric: a Conv's weights need no zero point (the input is optional and defaults to 0), so the container
        // stores no zeros. ONNX Runtime fuses a Gemm or MatMul into QGemm only when its weights' DequantizeLinear
        // names all three inputs (the fusion moves them by position); without it the layer stays float and
        // dequantizes its whole weight matrix on every run.
        string[] dqInputs = node.OpType == "Conv" ? [qName, sName]
            : [qName, sName, graph.AddInitializer(new Tensor(graph.UniqueName(baseName + "_zero_point"), ElementType.Int8, [channels], new byte[channels]))];
        var dq = new Node(graph.UniqueName(baseName + "_dequantized"), "DequantizeLinear", dqInputs, [graph.UniqueName(baseName + "_dequantized")])
            .With("axis", NodeAttribute.Of((long)axis));
        node.Inputs[1] = dq.Outputs[0];
        graph.Nodes.Insert(graph.Nodes.IndexOf(node), dq);

        // Bias as int32 on the grid input scale x weight scale, when the input is quantized.
        if (graph.FindInitializer(node.Input(2)) is { Type: ElementType.Float } bias && bias.ElementCount == channels
            && InputScale(graph, node) is { } inputScale && graph.Nodes.Count(n => n.Inputs.Contains(bias.Name)) == 1)
        {
            var biasScales = scales.Select(s => s * inputScale).ToArray();
            var biasValues = new int[channels];
            for (var c = 0; c < channels; c++) biasValues[c] = (int)Math.Clamp(MathF.Round(bias.Floats[c] / biasScales[c]), int.MinValue, int.MaxValue);
            graph.Initializers.Remove(bias.Name);
            var bq = graph.AddInitializer(new Tensor(graph.UniqueName(bias.Name + "_quantized"), ElementType.Int32, [channels], MemoryMarshal.AsBytes(biasValues.AsSpan()).ToArray()));
            var bs = graph.AddInitializer(Tensor.FromFloats(graph.UniqueName(bias.Name + "_scale"), [channels], biasScales));
            var output = graph.UniqueName(bias.Name + "_dequantized");
            var bdq = new Node(output, "DequantizeLinear", [bq, bs], [output]).With("axis", NodeAttribute.Of(0L));
            node.Inputs[2] = output;
            graph.Nodes.Insert(graph.Nodes.IndexOf(node), bdq);
        }
        return true;

        float? InputScale(ModelGraph g, Node n) =>
            g.Producer(n.Inputs[0]) is { OpType: "DequantizeLinear" } dqInput && g.FindInitializer(dqInput.Inputs[1]) is { } s ? s.Floats[0] : null;
    }
}

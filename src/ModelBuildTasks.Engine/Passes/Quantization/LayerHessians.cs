using ModelBuildTasks.Data;
using ModelBuildTasks.Evaluation;
using ModelBuildTasks.Graph;

namespace ModelBuildTasks.Passes.Quantization;

/// <summary>
/// How one weight's columns are grouped for error compensation: the weight seen as a matrix of
/// <c>Rows</c> outputs by <c>Columns</c> inputs (for a Conv: input channel x kernel position, in the
/// order of the weight's own layout), cut into <c>Blocks</c> consecutive column blocks of
/// <c>BlockSize</c> (per group for a grouped Conv: block b belongs to group b / (Blocks / Groups)).
/// </summary>
/// <param name="Weight">The weight initializer's name.</param>
/// <param name="Rows">Output channels.</param>
/// <param name="Columns">Inputs per group (Conv: input channels per group x kernel positions).</param>
/// <param name="Groups">Conv groups (1 otherwise): a row of group j only sees the columns of group j.</param>
/// <param name="BlockSize">Columns per block.</param>
/// <param name="RowMajor">True when row r, column c is at r x Columns + c (Conv, Gemm with transB); false when at c x Rows + r (MatMul, Gemm without transB).</param>
public sealed record WeightLayout(string Weight, int Rows, int Columns, int Groups, int BlockSize, bool RowMajor)
{
    /// <summary>Column blocks over all groups.</summary>
    public int Blocks => Groups * Columns / BlockSize;
}

/// <summary>
/// The second-order statistics error compensation needs: for each Conv/Gemm/MatMul weight, the
/// block-diagonal of H = sum x xT over the inputs x the weight multiplies (Conv: every receptive
/// field of every calibration image). ONNX Runtime computes them: the model gets, per layer, an
/// im2col (a depthwise Conv with one-hot kernels) and a batched MatMul, and only the small H blocks come back.
/// Blocks (at most <see cref="MaxBlock"/> columns, whole input channels) keep the memory and the
/// later factorizations small on 224x224 models, at the price of ignoring correlations across blocks.
/// </summary>
public sealed class LayerHessians
{
    /// <summary>The most columns in one block.</summary>
    public const int MaxBlock = 576;

    // Past this many output positions per image a Conv's receptive fields are subsampled on a strided grid.
    const int MaxPositions = 1024;

    readonly Dictionary<string, (WeightLayout Layout, float[] H)> layers;

    LayerHessians(Dictionary<string, (WeightLayout Layout, float[] H)> layers) => this.layers = layers;

    /// <summary>The layout and H blocks (Blocks x BlockSize x BlockSize, row-major) of a weight, if measured.</summary>
    public (WeightLayout Layout, float[] H)? For(string weight) => layers.TryGetValue(weight, out var v) ? v : null;

    /// <summary>The weights measured.</summary>
    public int Count => layers.Count;

    /// <summary>About the memory the H blocks take, with the inverse factors derived from them (about as large).</summary>
    public long Bytes => 2L * sizeof(float) * layers.Values.Sum(l => (long)l.H.Length);

    /// <summary>Per weight and block, the inverse factor <see cref="ErrorCompensation"/> derives from H (empty when H could not be factored), kept as long as H.</summary>
    internal Dictionary<string, float[]?[]> Factors { get; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Measures the H blocks of every per-channel quantizable weight of <paramref name="model"/>
    /// (BatchNorm already folded, shapes inferred) on <paramref name="images"/>.
    /// </summary>
    public static LayerHessians Collect(OnnxModel model, ImageDataset images)
    {
        var proto = OnnxExport.ToProto(model);
        var work = OnnxImport.ToModel(proto);
        var graph = work.Graph;
        var outputs = new Dictionary<string, WeightLayout>(StringComparer.Ordinal);
        foreach (var node in graph.Nodes.ToList())
        {
            if (WeightQuantization.OutputAxis(graph, node) is not { } axis) continue;
            var weight = graph.FindInitializer(node.Input(1))!;
            var added = node.OpType == "Conv" ? AddConv(graph, node, weight) : AddMatrix(graph, node, weight, axis);
            if (added is { } a) outputs[a.Output] = a.Layout;
        }
        var result = new Dictionary<string, (WeightLayout Layout, float[] H)>(StringComparer.Ordinal);
        if (outputs.Count == 0) return new LayerHessians(result);
        foreach (var (name, layout) in outputs)
        {
            graph.Outputs.Add(new ValueInfo(name, ElementType.Float, null));
            result[layout.Weight] = (layout, new float[(long)layout.Blocks * layout.BlockSize * layout.BlockSize]);
        }
        graph.ValueInfos.Clear();
        var batch = images.ImageSize > 100_000 ? 8 : 64;
        // The runner pads a model's fixed batch with zero images and keeps the real images' share of
        // each output; H is a sum, not per image, so only whole fixed batches are run.
        if (model.Graph.Inputs[0].Shape is { Rank: > 0 } inputShape && inputShape[0].Value > 1)
        {
            batch = (int)inputShape[0].Value;
            if (images.Count < batch) return new LayerHessians([]);
            if (images.Count % batch != 0) images = DatasetSplit.Sample(images, images.Count / batch * batch, seed: 1);
        }
        using var runner = new ModelRunner(OnnxExport.ToBytes(work), new RunnerOptions { BatchSize = batch, SplitBatches = false });
        runner.ForEachBatch(images, outputs.Keys.ToArray(), (_, _, name, values) =>
        {
            // Float sums: ONNX Runtime's MatMul already summed each batch in float, and a 224x224 model's H blocks take 75 MB so.
            var h = result[outputs[name].Weight].H;
            System.Numerics.Tensors.TensorPrimitives.Add(h, values, h);
        });
        return new LayerHessians(result);
    }

    // The largest divisor of `count` whose multiple by `unit` stays within MaxBlock (at least 1).
    static int BlockChannels(int count, int unit)
    {
        for (var c = Math.Max(1, MaxBlock / unit); c > 1; c--)
            if (count % c == 0) return c;
        return 1;
    }

    // im2col of a Conv's input as ONNX nodes, then H per (group, block): [G x nb, B, B].
    static (string Output, WeightLayout Layout)? AddConv(ModelGraph graph, Node conv, Tensor weight)
    {
        if (conv.GetString("auto_pad", "NOTSET") is not ("NOTSET" or "VALID") || weight.Dims.Length != 4) return null;
        if (!graph.ValueInfos.TryGetValue(conv.Outputs[0], out var outInfo) || outInfo.Shape is not { Rank: 4 } outShape
            || !outShape[2].IsKnown || !outShape[3].IsKnown) return null;
        var groups = (int)conv.GetInt("group", 1);
        var (cout, cinPerGroup, kh, kw) = ((int)weight.Dims[0], (int)weight.Dims[1], (int)weight.Dims[2], (int)weight.Dims[3]);
        var strides = conv.GetInts("strides") ?? [1, 1];
        var dilations = conv.GetInts("dilations") ?? [1, 1];
        var pads = conv.GetInts("pads") ?? [0, 0, 0, 0];
        var (oh, ow) = (outShape[2].Value, outShape[3].Value);
        // A coarser grid of output positions when there are many: every `step`-th row and column.
        var step = 1;
        while (oh / step * (ow / step) > MaxPositions) step++;

        // im2col as a depthwise Conv whose kernels are one-hot: output channel c x k x k + (i x kw + j) is input channel c at
        // kernel position (i, j) of each receptive field, the weight's own column order. Multiplying by 1 and adding zeros is
        // exact, and ONNX Runtime does it in one pass where strided Slices and a Concat copied the input three times.
        var prefix = graph.UniqueName(weight.Name + "_hessian");
        var nodes = new List<Node>();
        string Const(string suffix, long[] values) => graph.AddInitializer(Tensor.FromInt64s(graph.UniqueName($"{prefix}_{suffix}"), [values.Length], values));
        var channels = groups * cinPerGroup;
        var positions = kh * kw;
        var oneHot = new float[channels * positions * positions];
        for (var c = 0; c < channels; c++)
            for (var k = 0; k < positions; k++)
                oneHot[(c * positions + k) * positions + k] = 1;
        var kernels = graph.AddInitializer(Tensor.FromFloats(graph.UniqueName(prefix + "_onehot"), [channels * positions, 1, kh, kw], oneHot));
        var columns = graph.UniqueName(prefix + "_columns");
        nodes.Add(new Node(columns, "Conv", [conv.Inputs[0], kernels], [columns])
            .With("group", NodeAttribute.Of((long)channels))
            .With("kernel_shape", NodeAttribute.Of((long)kh, kw))
            .With("strides", NodeAttribute.Of(strides[0] * step, strides[1] * step))
            .With("dilations", NodeAttribute.Of(dilations[0], dilations[1]))
            .With("pads", NodeAttribute.Of(pads[0], pads[1], pads[2], pads[3])));
        var blockChannels = BlockChannels(cinPerGroup, kh * kw);
        var blockSize = blockChannels * kh * kw;
        var blocks = groups * cinPerGroup / blockChannels;
        // [N, C, k, h, w] -> [N, blocks, B, P] -> [blocks, B, N, P] -> [blocks, B, N x P]
        var layout = new WeightLayout(weight.Name, cout, cinPerGroup * kh * kw, groups, blockSize, RowMajor: true);
        var output = Gram(graph, nodes, prefix, columns, [0, blocks, blockSize, -1], [1, 2, 0, 3], [blocks, blockSize, -1], Const);
        return Insert(graph, conv, nodes, output, layout);
    }

    // Gemm/MatMul: x [M, K] -> [K/B blocks, B, M] -> H [blocks, B, B].
    static (string Output, WeightLayout Layout)? AddMatrix(ModelGraph graph, Node node, Tensor weight, int axis)
    {
        if (weight.Dims.Length != 2) return null;
        var rowMajor = axis == 0;
        var (rows, columns) = rowMajor ? ((int)weight.Dims[0], (int)weight.Dims[1]) : ((int)weight.Dims[1], (int)weight.Dims[0]);
        var prefix = graph.UniqueName(weight.Name + "_hessian");
        var nodes = new List<Node>();
        string Const(string suffix, long[] values) => graph.AddInitializer(Tensor.FromInt64s(graph.UniqueName($"{prefix}_{suffix}"), [values.Length], values));
        var blockSize = BlockChannels(columns, 1);
        if (blockSize < Math.Min(columns, 64)) blockSize = columns; // an awkward width: one block
        var blocks = columns / blockSize;
        var output = Gram(graph, nodes, prefix, node.Inputs[0], [-1, blocks, blockSize], [1, 2, 0], [blocks, blockSize, -1], Const);
        return Insert(graph, node, nodes, output, new WeightLayout(weight.Name, rows, columns, 1, blockSize, rowMajor));
    }

    // Reshape -> Transpose -> Reshape to [blocks, B, samples] = A, then A x AT.
    static string Gram(ModelGraph graph, List<Node> nodes, string prefix, string input, long[] split, long[] perm, long[] merge, Func<string, long[], string> constant)
    {
        var a = graph.UniqueName(prefix + "_blocked");
        nodes.Add(new Node(a, "Reshape", [input, constant("split", split)], [a]));
        var t = graph.UniqueName(prefix + "_perm");
        nodes.Add(new Node(t, "Transpose", [a], [t]).With("perm", NodeAttribute.Of(perm)));
        var m = graph.UniqueName(prefix + "_a");
        nodes.Add(new Node(m, "Reshape", [t, constant("merge", merge)], [m]));
        var mt = graph.UniqueName(prefix + "_at");
        nodes.Add(new Node(mt, "Transpose", [m], [mt]).With("perm", NodeAttribute.Of(0L, 2L, 1L)));
        var h = graph.UniqueName(prefix);
        nodes.Add(new Node(h, "MatMul", [m, mt], [h]));
        return h;
    }

    static (string, WeightLayout) Insert(ModelGraph graph, Node consumer, List<Node> nodes, string output, WeightLayout layout)
    {
        graph.Nodes.InsertRange(graph.Nodes.IndexOf(consumer), nodes);
        return (output, layout);
    }
}

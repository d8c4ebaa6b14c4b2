using ModelBuildTasks.Graph;
using ModelBuildTasks.Shapes;
using TorchSharp;
using static TorchSharp.torch;
using TorchTensor = TorchSharp.torch.Tensor;

namespace ModelBuildTasks.Training;

/// <summary>
/// A trainable TorchSharp module that runs an engine graph node by node with ONNX semantics
/// (see <see cref="TorchOps"/>). Weights of Conv, Gemm, MatMul and BatchNormalization become
/// parameters, BatchNorm statistics and other constants become buffers. After training,
/// <see cref="CopyTo"/> writes every value back into the graph's initializers.
/// </summary>
public sealed class TorchGraphModule : nn.Module<TorchTensor, TorchTensor>
{
    readonly ModelGraph graph;
    readonly Dictionary<string, TorchTensor> values = new(StringComparer.Ordinal);       // initializer name -> parameter/buffer
    readonly Dictionary<string, TorchTensor> masks = new(StringComparer.Ordinal);
    readonly Dictionary<string, string> parameterNames = new(StringComparer.Ordinal);     // initializer -> registered name
    readonly long opset;
    readonly Dictionary<string, int> quantizable = new(StringComparer.Ordinal); // weight -> output-channel axis

    /// <summary>Builds the module from a model's graph; throws <see cref="ModelBuildException"/> for unsupported operators.</summary>
    public TorchGraphModule(OnnxModel model) : base(model.Graph.Name)
    {
        graph = model.Graph;
        opset = model.OpsetVersion;
        var unsupported = graph.Nodes.Where(n => !OperatorRules.IsSupported(n)).Select(n => n.ToString()).ToList();
        if (unsupported.Count > 0)
            throw new ModelBuildException(ErrorCodes.UnsupportedOperator, $"cannot train a model with unsupported operators: {string.Join(", ", unsupported)}");
        if (graph.Inputs.Count != 1) throw new ModelBuildException(ErrorCodes.InvalidGraph, "training needs a model with exactly one input");

        foreach (var node in graph.Nodes)
            if (Passes.Quantization.WeightQuantization.OutputAxis(graph, node) is { } axis) quantizable[node.Inputs[1]] = axis;
        var trainable = TrainableInitializers(graph);
        var index = 0;
        foreach (var tensor in graph.Initializers.Values)
        {
            var name = $"t{index++}";
            var value = ToTorch(tensor);
            if (trainable.Contains(tensor.Name))
            {
                var parameter = new TorchSharp.Modules.Parameter(value, requires_grad: true);
                register_parameter(name, parameter);
                values[tensor.Name] = parameter;
            }
            else
            {
                register_buffer(name, value);
                values[tensor.Name] = value;
            }
            parameterNames[tensor.Name] = name;
        }
    }

    /// <summary>
    /// When set, the forward pass uses each Conv/Gemm/MatMul weight snapped to its <c>b</c>-bit
    /// per-output-channel grid, the one integer quantization will use, with straight-through
    /// gradients to the float weight (quantization-aware training). BatchNorm folding later scales
    /// each channel's grid by one factor, so training on the unfolded grid is exact.
    /// </summary>
    public int? FakeQuantBits { get; init; }

    /// <summary>With <see cref="FakeQuantBits"/>: weights (by initializer name) whose grid is narrower than the model's (per-layer precision).</summary>
    public IReadOnlyDictionary<string, int> LayerBits { get; init; } = new Dictionary<string, int>();

    /// <summary>With <see cref="FakeQuantBits"/>: weights (by initializer name) that quantization keeps float, which train as they ship.</summary>
    public IReadOnlySet<string> FloatLayers { get; init; } = new HashSet<string>();

    /// <summary>The graph's parameters by initializer name (trainable ones only).</summary>
    public IEnumerable<(string Name, TorchTensor Value)> NamedWeights =>
        values.Where(kv => kv.Value.requires_grad).Select(kv => (kv.Key, kv.Value));

    /// <summary>The learnable scale (gamma) of every BatchNormalization, for the network-slimming L1 penalty.</summary>
    public IEnumerable<TorchTensor> BatchNormScales =>
        graph.Nodes.Where(n => n.OpType == "BatchNormalization" && n.Input(1) is not null).Select(n => values[n.Inputs[1]]);

    /// <summary>The running mean and variance of every BatchNormalization: buffers that each training-mode forward pass updates.</summary>
    public IReadOnlyList<TorchTensor> BatchNormStatistics =>
        graph.Nodes.Where(n => n.OpType == "BatchNormalization").SelectMany(n => new[] { values[n.Inputs[3]], values[n.Inputs[4]] }).ToList();

    /// <summary>Attaches a 0/1 mask to an initializer; it is applied now and after every optimizer step.</summary>
    public void SetMask(string initializer, float[] mask)
    {
        if (!values.TryGetValue(initializer, out var value)) throw new ArgumentException($"no initializer '{initializer}'", nameof(initializer));
        if (mask.Length != value.numel()) throw new ArgumentException($"mask has {mask.Length} entries for {value.numel()} values", nameof(mask));
        masks[initializer] = torch.tensor(mask, value.shape);
        ApplyMasks();
    }

    /// <summary>Re-applies every mask (masked weights become exactly zero).</summary>
    public void ApplyMasks()
    {
        using var _ = torch.no_grad();
        foreach (var (name, mask) in masks) values[name].mul_(mask);
    }

    /// <summary>Runs the graph on a batch and returns its first output.</summary>
    public override TorchTensor forward(TorchTensor input)
    {
        var live = new Dictionary<string, TorchTensor>(values, StringComparer.Ordinal) { [graph.Inputs[0].Name] = input };
        if (FakeQuantBits is { } bits)
            foreach (var (name, axis) in quantizable.Where(q => !FloatLayers.Contains(q.Key))) live[name] = FakeQuantize(values[name], axis, LayerBits.TryGetValue(name, out var narrower) ? narrower : bits);
        foreach (var node in graph.Nodes)
        {
            var outputs = TorchOps.Run(node, live, training, opset);
            for (var i = 0; i < outputs.Length && i < node.Outputs.Count; i++)
                if (node.Outputs[i].Length > 0) live[node.Outputs[i]] = outputs[i];
        }
        return live[graph.Outputs[0].Name];
    }

    /// <summary>Writes every parameter and buffer back into the graph's initializers (same names and shapes).</summary>
    public void CopyTo(ModelGraph target)
    {
        using var _ = torch.no_grad();
        foreach (var (name, value) in values)
        {
            var original = target.Initializers[name];
            if (original.Type != ElementType.Float) continue;
            var data = value.detach().cpu().contiguous().data<float>().ToArray();
            target.Initializers[name] = Graph.Tensor.FromFloats(name, original.Dims, data);
        }
    }

    // w + (q(w) - w).detach(): the forward pass sees q(w), the gradient goes to w unchanged.
    static TorchTensor FakeQuantize(TorchTensor w, int axis, int bits)
    {
        var qmax = (1 << (bits - 1)) - 1;
        var others = Enumerable.Range(0, (int)w.dim()).Where(d => d != axis).Select(d => (long)d).ToArray();
        var scale = (w.detach().abs().amax(others, keepdim: true) / qmax).clamp_min(1e-12);
        var snapped = (w.detach() / scale).round().clamp(-qmax, qmax) * scale;
        return w + (snapped - w.detach());
    }

    static TorchTensor ToTorch(Graph.Tensor t) => t.Type switch
    {
        ElementType.Float => torch.tensor(t.Floats.ToArray(), t.Dims),
        _ => torch.tensor(t.ToInt64s(), t.Dims),
    };

    // Weights that training changes: the learnable inputs of the layers that have them.
    static HashSet<string> TrainableInitializers(ModelGraph graph)
    {
        var result = new HashSet<string>(StringComparer.Ordinal);
        foreach (var node in graph.Nodes)
        {
            int[] learnable = node.OpType switch
            {
                "Conv" or "Gemm" => [1, 2],
                "MatMul" => [1],
                "BatchNormalization" => [1, 2],
                _ => [],
            };
            foreach (var i in learnable)
                if (graph.FindInitializer(node.Input(i)) is { Type: ElementType.Float } t) result.Add(t.Name);
        }
        return result;
    }
}

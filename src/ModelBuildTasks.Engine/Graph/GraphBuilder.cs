using ModelBuildTasks.Shapes;

namespace ModelBuildTasks.Graph;

/// <summary>
/// Builds CNN graphs layer by layer with seeded weights (He-normal convolutions and linear
/// layers, identity BatchNorm), tracking every value's shape as it goes so layers can size their
/// weights from their input. Used by tests and by the sample-model trainer.
/// </summary>
public sealed class GraphBuilder
{
    readonly OnnxModel model = new();
    readonly Dictionary<string, TensorShape> shapes = new(StringComparer.Ordinal);
    readonly Random random;
    int counter;

    /// <summary>Starts a graph named <paramref name="name"/>; <paramref name="seed"/> fixes the initial weights.</summary>
    public GraphBuilder(string name, int seed = 1, long opset = 13)
    {
        model.Graph.Name = name;
        model.Opsets.Clear();
        model.Opsets.Add(new OpsetImport("", opset));
        random = new Random(seed);
    }

    /// <summary>The graph being built.</summary>
    public ModelGraph Graph => model.Graph;

    /// <summary>The shape of a value built so far.</summary>
    public TensorShape ShapeOf(string value) => shapes[value];

    /// <summary>Declares a float image input of shape [N, C, H, W] with a symbolic batch <c>N</c>.</summary>
    public string Input(string name, int channels, int height, int width)
    {
        var shape = new TensorShape([Dim.Named("N"), channels, height, width]);
        model.Graph.Inputs.Add(new ValueInfo(name, ElementType.Float, shape));
        shapes[name] = shape;
        return name;
    }

    /// <summary>Declares an N x H x W x C float input and transposes it to N x C x H x W, as tf2onnx exports a TensorFlow model; returns the transposed value.</summary>
    public string InputChannelsLast(string name, int height, int width, int channels)
    {
        var shape = new TensorShape([Dim.Named("N"), height, width, channels]);
        model.Graph.Inputs.Add(new ValueInfo(name, ElementType.Float, shape));
        shapes[name] = shape;
        return Add("Transpose", [name], ("perm", NodeAttribute.Of([0L, 3L, 1L, 2L])));
    }

    /// <summary>Marks <paramref name="value"/> as a graph output (renamed to <paramref name="name"/> via Identity if they differ).</summary>
    public void Output(string value, string? name = null)
    {
        if (name is not null && name != value) value = Add("Identity", [value], name: name);
        model.Graph.Outputs.Add(new ValueInfo(value, ElementType.Float, shapes[value]));
    }

    /// <summary>Returns the finished model, with inferred value infos.</summary>
    public OnnxModel Build()
    {
        ShapeInference.Apply(model.Graph);
        return model;
    }

    /// <summary>A convolution with bias (or without, when a BatchNorm follows).</summary>
    public string Conv(string x, int outChannels, int kernel = 3, int stride = 1, int pad = -1, int group = 1, bool bias = true)
    {
        var inChannels = (int)shapes[x][1].Value;
        if (pad < 0) pad = kernel / 2;
        var fanIn = inChannels / group * kernel * kernel;
        var w = Weight("conv_w", [outChannels, inChannels / group, kernel, kernel], MathF.Sqrt(2f / fanIn));
        List<string> inputs = [x, w];
        if (bias) inputs.Add(Constant("conv_b", [outChannels], 0f));
        return Add("Conv", inputs,
            ("kernel_shape", NodeAttribute.Of([kernel, kernel])),
            ("strides", NodeAttribute.Of([stride, stride])),
            ("pads", NodeAttribute.Of([pad, pad, pad, pad])),
            ("group", NodeAttribute.Of((long)group)));
    }

    /// <summary>BatchNormalization with gamma 1, beta 0, mean 0, variance 1.</summary>
    public string BatchNorm(string x, float epsilon = 1e-5f)
    {
        var c = shapes[x][1].Value;
        return Add("BatchNormalization",
            [x, Constant("bn_scale", [c], 1f), Constant("bn_bias", [c], 0f), Constant("bn_mean", [c], 0f), Constant("bn_var", [c], 1f)],
            ("epsilon", NodeAttribute.Of(epsilon)));
    }

    /// <summary>Relu.</summary>
    public string Relu(string x) => Add("Relu", [x]);

    /// <summary>Max pooling with a square window.</summary>
    public string MaxPool(string x, int kernel, int stride = 0) =>
        Add("MaxPool", [x], ("kernel_shape", NodeAttribute.Of([kernel, kernel])), ("strides", NodeAttribute.Of([stride > 0 ? stride : kernel, stride > 0 ? stride : kernel])));

    /// <summary>Average pooling with a square window.</summary>
    public string AveragePool(string x, int kernel, int stride = 0) =>
        Add("AveragePool", [x], ("kernel_shape", NodeAttribute.Of([kernel, kernel])), ("strides", NodeAttribute.Of([stride > 0 ? stride : kernel, stride > 0 ? stride : kernel])));

    /// <summary>Global average pooling to [N, C, 1, 1].</summary>
    public string GlobalAveragePool(string x) => Add("GlobalAveragePool", [x]);

    /// <summary>Flatten to [N, rest].</summary>
    public string Flatten(string x) => Add("Flatten", [x], ("axis", NodeAttribute.Of(1L)));

    /// <summary>A fully connected layer (Gemm with transposed weights, as PyTorch's Linear).</summary>
    public string Linear(string x, int outFeatures)
    {
        var inFeatures = shapes[x][1].Value;
        var w = Weight("fc_w", [outFeatures, inFeatures], MathF.Sqrt(1f / inFeatures));
        return Add("Gemm", [x, w, Constant("fc_b", [outFeatures], 0f)], ("transB", NodeAttribute.Of(1L)));
    }

    /// <summary>Dropout (active only in training; ONNX Runtime runs it as identity).</summary>
    public string Dropout(string x, float ratio)
    {
        var name = $"dropout_ratio_{counter++}";
        model.Graph.AddInitializer(Tensor.FromFloats(name, [], [ratio]));
        shapes[name] = TensorShape.Of();
        return Add("Dropout", [x, name]);
    }

    /// <summary>Elementwise sum (a residual connection).</summary>
    public string Sum(string a, string b) => Add("Add", [a, b]);

    /// <summary>Concatenation along the channel axis.</summary>
    public string Concat(params string[] values) => Add("Concat", values, ("axis", NodeAttribute.Of(1L)));

    /// <summary>Adds any node with the given inputs and attributes; returns its (first) output's name.</summary>
    public string Add(string opType, IReadOnlyList<string> inputs, params (string Name, NodeAttribute Value)[] attributes) =>
        Add(opType, inputs, null, attributes);

    /// <summary>Adds a node with <paramref name="outputCount"/> outputs (a Split); returns their names.</summary>
    public string[] AddOutputs(string opType, IReadOnlyList<string> inputs, int outputCount, params (string Name, NodeAttribute Value)[] attributes) =>
        Add(opType, inputs, null, outputCount, attributes);

    string Add(string opType, IReadOnlyList<string> inputs, string? name, params (string Name, NodeAttribute Value)[] attributes) =>
        Add(opType, inputs, name, 1, attributes)[0];

    string[] Add(string opType, IReadOnlyList<string> inputs, string? name, int outputCount, (string Name, NodeAttribute Value)[] attributes)
    {
        var nodeName = $"{opType.ToLowerInvariant()}_{counter++}";
        string[] outputs = outputCount == 1 ? [name ?? nodeName] : [.. Enumerable.Range(0, outputCount).Select(i => $"{nodeName}_{i}")];
        var node = new Node(nodeName, opType, inputs, outputs);
        foreach (var (key, value) in attributes) node.Attributes[key] = value;
        model.Graph.Nodes.Add(node);
        var values = new Dictionary<string, ValueInfo>(StringComparer.Ordinal);
        foreach (var (k, v) in shapes) values[k] = new ValueInfo(k, ElementType.Float, v);
        var constants = model.Graph.Initializers.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        var inferred = OperatorRules.Infer(new ShapeContext(node, values, constants));
        for (var i = 0; i < outputs.Length; i++) shapes[outputs[i]] = inferred[i]!.Shape!;
        return outputs;
    }

    /// <summary>Adds a float initializer filled with <paramref name="value"/>.</summary>
    public string Constant(string prefix, long[] dims, float value)
    {
        var data = new float[dims.Aggregate(1L, (n, d) => n * d)];
        Array.Fill(data, value);
        return Initializer(prefix, dims, data);
    }

    /// <summary>Adds a float initializer with the given values.</summary>
    public string Initializer(string prefix, long[] dims, float[] values)
    {
        var name = $"{prefix}_{counter++}";
        model.Graph.AddInitializer(Tensor.FromFloats(name, dims, values));
        shapes[name] = TensorShape.Of(dims);
        return name;
    }

    string Weight(string prefix, long[] dims, float std)
    {
        var data = new float[dims.Aggregate(1L, (n, d) => n * d)];
        for (var i = 0; i < data.Length; i++)
        {
            // Box-Muller: a normal sample from two uniform ones.
            var u1 = 1.0 - random.NextDouble();
            var u2 = random.NextDouble();
            data[i] = (float)(Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2)) * std;
        }
        return Initializer(prefix, dims, data);
    }
}

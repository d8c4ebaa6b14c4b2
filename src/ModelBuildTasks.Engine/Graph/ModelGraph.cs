namespace ModelBuildTasks.Graph;

/// <summary>
/// A computation graph: nodes in topological order, the graph's inputs and outputs, constant
/// tensors (initializers) and the known types of intermediate values.
/// </summary>
public sealed class ModelGraph
{
    /// <summary>The graph's name.</summary>
    public string Name { get; set; } = "graph";

    /// <summary>The nodes, in topological order.</summary>
    public List<Node> Nodes { get; } = [];

    /// <summary>The graph inputs that are fed at run time (initializers are not listed here).</summary>
    public List<ValueInfo> Inputs { get; } = [];

    /// <summary>The graph outputs.</summary>
    public List<ValueInfo> Outputs { get; } = [];

    /// <summary>The constant tensors by name, in file order.</summary>
    public OrderedDictionary<string, Tensor> Initializers { get; } = new(StringComparer.Ordinal);

    /// <summary>Types of intermediate values, as declared in the file or found by shape inference.</summary>
    public OrderedDictionary<string, ValueInfo> ValueInfos { get; } = new(StringComparer.Ordinal);

    /// <summary>Adds an initializer and returns its name.</summary>
    public string AddInitializer(Tensor tensor)
    {
        Initializers[tensor.Name] = tensor;
        return tensor.Name;
    }

    /// <summary>The initializer called <paramref name="name"/>, or null.</summary>
    public Tensor? FindInitializer(string? name) =>
        name is not null && Initializers.TryGetValue(name, out var t) ? t : null;

    /// <summary>The node that produces <paramref name="value"/>, or null for inputs and initializers.</summary>
    public Node? Producer(string value) => Nodes.FirstOrDefault(n => n.Outputs.Contains(value));

    /// <summary>The nodes that read <paramref name="value"/>.</summary>
    public IEnumerable<Node> Consumers(string value) => Nodes.Where(n => n.Inputs.Contains(value));

    /// <summary>True when <paramref name="value"/> is one of the graph's outputs.</summary>
    public bool IsOutput(string value) => Outputs.Any(o => o.Name == value);

    /// <summary>
    /// Whether the first output is made by a Softmax over its last axis (<see cref="Onnx.SoftmaxOutput"/>, the rule
    /// the MSBuild task applies to the model file too): training takes its log rather than a second softmax.
    /// </summary>
    public bool EndsInSoftmax() => Onnx.SoftmaxOutput.EndsInSoftmax(Outputs[0].Name, ProducerOf);

    /// <summary>
    /// Whether the first output already is probabilities, a Softmax's or a Sigmoid's (<see cref="Onnx.SoftmaxOutput.EndsInProbabilities"/>):
    /// the runtime passes them through rather than applying softmax.
    /// </summary>
    public bool EndsInProbabilities() => Onnx.SoftmaxOutput.EndsInProbabilities(Outputs[0].Name, ProducerOf);

    Onnx.SoftmaxOutput.Producer? ProducerOf(string value) =>
        Producer(value) is { } node ? new Onnx.SoftmaxOutput.Producer(node.OpType, node.Input(0), node.GetInt("axis", -1)) : null;

    /// <summary>
    /// Whether a node holds a subgraph (If, Loop, Scan: kept as opaque attributes), whose nodes may read any value of this
    /// graph: passes that drop or rename values leave such a graph alone.
    /// </summary>
    public bool HasSubgraphs => Nodes.Any(n => n.Attributes.Values.Any(a => a.Kind == AttributeKind.Opaque));

    /// <summary><paramref name="name"/>, or with a numeric suffix, so that no graph input, initializer or node output has it yet.</summary>
    public string UniqueName(string name)
    {
        var candidate = name;
        for (var i = 1; Initializers.ContainsKey(candidate) || Inputs.Any(v => v.Name == candidate) || Nodes.Any(n => n.Outputs.Contains(candidate)); i++) candidate = $"{name}_{i}";
        return candidate;
    }

    /// <summary>Number of elements in all float initializers (the model's parameters).</summary>
    public long ParameterCount => Initializers.Values.Where(t => t.Type == ElementType.Float).Sum(t => t.ElementCount);
}

namespace ModelBuildTasks.Graph;

/// <summary>
/// One operator application. Inputs and outputs are value names; an empty input name means an
/// optional input that is not given (ONNX's convention).
/// </summary>
public sealed class Node
{
    /// <summary>Creates a node.</summary>
    public Node(string name, string opType, IEnumerable<string> inputs, IEnumerable<string> outputs, string domain = "")
    {
        Name = name;
        OpType = opType;
        Domain = domain;
        Inputs = inputs.ToList();
        Outputs = outputs.ToList();
    }

    /// <summary>The node's name (may be empty in ONNX files; the importer names unnamed nodes).</summary>
    public string Name { get; set; }

    /// <summary>The operator, e.g. <c>Conv</c>.</summary>
    public string OpType { get; set; }

    /// <summary>The operator's domain; empty for the default ONNX domain.</summary>
    public string Domain { get; set; }

    /// <summary>Names of the input values.</summary>
    public List<string> Inputs { get; }

    /// <summary>Names of the output values.</summary>
    public List<string> Outputs { get; }

    /// <summary>The attributes, in file order.</summary>
    public OrderedDictionary<string, NodeAttribute> Attributes { get; } = new(StringComparer.Ordinal);

    /// <summary>The input at <paramref name="index"/>, or null when absent or empty.</summary>
    public string? Input(int index) => index < Inputs.Count && Inputs[index].Length > 0 ? Inputs[index] : null;

    /// <summary>An integer attribute, or <paramref name="fallback"/> when not set.</summary>
    public long GetInt(string name, long fallback) =>
        Attributes.TryGetValue(name, out var a) && a.Kind == AttributeKind.Int ? a.Int : fallback;

    /// <summary>A float attribute, or <paramref name="fallback"/> when not set.</summary>
    public float GetFloat(string name, float fallback) =>
        Attributes.TryGetValue(name, out var a) && a.Kind == AttributeKind.Float ? a.Float : fallback;

    /// <summary>A string attribute, or <paramref name="fallback"/> when not set.</summary>
    public string GetString(string name, string fallback) =>
        Attributes.TryGetValue(name, out var a) && a.Kind == AttributeKind.String ? a.String : fallback;

    /// <summary>An integer-list attribute, or null when not set.</summary>
    public long[]? GetInts(string name) =>
        Attributes.TryGetValue(name, out var a) && a.Kind == AttributeKind.Ints ? a.Ints : null;

    /// <summary>Sets an attribute and returns this node, for building graphs fluently.</summary>
    public Node With(string name, NodeAttribute value)
    {
        Attributes[name] = value;
        return this;
    }

    /// <summary>The node written as <c>Conv 'conv1'</c>, as used in messages.</summary>
    public override string ToString() => $"{OpType} '{Name}'";
}

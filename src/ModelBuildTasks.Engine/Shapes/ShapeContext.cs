using ModelBuildTasks.Graph;

namespace ModelBuildTasks.Shapes;

/// <summary>What an operator rule sees: the node, its inputs' types and any constant input values.</summary>
public sealed class ShapeContext
{
    readonly IReadOnlyDictionary<string, ValueInfo> values;
    readonly IReadOnlyDictionary<string, Tensor> constants;

    internal ShapeContext(Node node, IReadOnlyDictionary<string, ValueInfo> values, IReadOnlyDictionary<string, Tensor> constants)
    {
        Node = node;
        this.values = values;
        this.constants = constants;
    }

    /// <summary>Thrown when a required input has no known shape; the driver then leaves the node's outputs unknown.</summary>
    internal sealed class UnknownInput : Exception;

    /// <summary>The node being inferred.</summary>
    public Node Node { get; }

    /// <summary>True when optional input <paramref name="index"/> is given.</summary>
    public bool Has(int index) => Node.Input(index) is not null;

    /// <summary>The type of input <paramref name="index"/>; its shape is known (else inference of this node stops quietly).</summary>
    public ValueInfo Input(int index)
    {
        var name = Node.Input(index) ?? throw Fail($"input {index} is missing");
        return values.TryGetValue(name, out var info) && info.Shape is not null ? info : throw new UnknownInput();
    }

    /// <summary>The shape of input <paramref name="index"/>.</summary>
    public TensorShape Shape(int index) => Input(index).Shape!;

    /// <summary>The constant value of input <paramref name="index"/>, or null when it is computed at run time.</summary>
    public Tensor? Constant(int index) =>
        Node.Input(index) is { } name && constants.TryGetValue(name, out var t) ? t : null;

    /// <summary>A result with the first input's element type and the given shape.</summary>
    public ValueInfo Like(int index, TensorShape shape) => new("", Input(index).Type, shape);

    /// <summary>An error about this node (code <see cref="ErrorCodes.InvalidGraph"/>).</summary>
    public ModelBuildException Fail(string message) => new(ErrorCodes.InvalidGraph, $"{Node}: {message}");
}

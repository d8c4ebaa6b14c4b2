namespace ModelBuildTasks.Graph;

/// <summary>What an attribute holds.</summary>
public enum AttributeKind
{
    /// <summary>One 64-bit integer.</summary>
    Int,
    /// <summary>One float.</summary>
    Float,
    /// <summary>One string.</summary>
    String,
    /// <summary>A list of integers.</summary>
    Ints,
    /// <summary>A list of floats.</summary>
    Floats,
    /// <summary>A list of strings.</summary>
    Strings,
    /// <summary>A tensor (e.g. the value of a Constant node).</summary>
    Tensor,
    /// <summary>A kind the IR does not model (graphs, type protos): kept as serialized ONNX bytes so it survives a round trip.</summary>
    Opaque,
}

/// <summary>A node attribute. Exactly the field matching <see cref="Kind"/> is set.</summary>
public sealed record NodeAttribute
{
    /// <summary>What the attribute holds.</summary>
    public AttributeKind Kind { get; init; }
    /// <summary>The value of an <see cref="AttributeKind.Int"/> attribute.</summary>
    public long Int { get; init; }
    /// <summary>The value of a <see cref="AttributeKind.Float"/> attribute.</summary>
    public float Float { get; init; }
    /// <summary>The value of a <see cref="AttributeKind.String"/> attribute.</summary>
    public string String { get; init; } = "";
    /// <summary>The value of an <see cref="AttributeKind.Ints"/> attribute.</summary>
    public long[] Ints { get; init; } = [];
    /// <summary>The value of a <see cref="AttributeKind.Floats"/> attribute.</summary>
    public float[] Floats { get; init; } = [];
    /// <summary>The value of a <see cref="AttributeKind.Strings"/> attribute.</summary>
    public string[] Strings { get; init; } = [];
    /// <summary>The value of a <see cref="AttributeKind.Tensor"/> attribute.</summary>
    public Tensor? Tensor { get; init; }
    /// <summary>The serialized ONNX <c>AttributeProto</c> of an <see cref="AttributeKind.Opaque"/> attribute.</summary>
    public byte[] OpaqueProto { get; init; } = [];

    /// <summary>An integer attribute.</summary>
    public static NodeAttribute Of(long value) => new() { Kind = AttributeKind.Int, Int = value };
    /// <summary>A float attribute.</summary>
    public static NodeAttribute Of(float value) => new() { Kind = AttributeKind.Float, Float = value };
    /// <summary>A string attribute.</summary>
    public static NodeAttribute Of(string value) => new() { Kind = AttributeKind.String, String = value };
    /// <summary>An integer-list attribute.</summary>
    public static NodeAttribute Of(params long[] values) => new() { Kind = AttributeKind.Ints, Ints = values };
    /// <summary>A float-list attribute.</summary>
    public static NodeAttribute Of(params float[] values) => new() { Kind = AttributeKind.Floats, Floats = values };
    /// <summary>A tensor attribute.</summary>
    public static NodeAttribute Of(Tensor value) => new() { Kind = AttributeKind.Tensor, Tensor = value };
}

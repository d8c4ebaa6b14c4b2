namespace ModelBuildTasks.Graph;

/// <summary>An immutable tensor shape: a list of <see cref="Dim"/>s.</summary>
public sealed class TensorShape : IEquatable<TensorShape>
{
    readonly Dim[] dims;

    /// <summary>Creates a shape from its dimensions.</summary>
    public TensorShape(IEnumerable<Dim> dims) => this.dims = dims.ToArray();

    /// <summary>Creates a shape of known sizes.</summary>
    public static TensorShape Of(params long[] sizes) => new(sizes.Select(Dim.Of));

    /// <summary>The dimensions.</summary>
    public IReadOnlyList<Dim> Dims => dims;

    /// <summary>The number of dimensions.</summary>
    public int Rank => dims.Length;

    /// <summary>The dimension at <paramref name="axis"/>.</summary>
    public Dim this[int axis] => dims[axis];

    /// <summary>True when every dimension is a number.</summary>
    public bool IsFullyKnown => dims.All(d => d.IsKnown);

    /// <summary>The sizes, with -1 for unknown or symbolic dimensions.</summary>
    public long[] Sizes => dims.Select(d => d.Value).ToArray();

    /// <summary>The number of elements, or null if some dimension is not known.</summary>
    public long? ElementCount => IsFullyKnown ? dims.Aggregate(1L, (n, d) => n * d.Value) : null;

    /// <inheritdoc />
    public bool Equals(TensorShape? other) => other is not null && dims.SequenceEqual(other.dims);

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as TensorShape);

    /// <inheritdoc />
    public override int GetHashCode() => dims.Aggregate(dims.Length, (h, d) => HashCode.Combine(h, d));

    /// <summary>The shape written as <c>[N,1,28,28]</c>.</summary>
    public override string ToString() => "[" + string.Join(",", dims) + "]";
}

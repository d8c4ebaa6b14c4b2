namespace ModelBuildTasks.Graph;

/// <summary>
/// One dimension of a shape: a known size, a named symbol (<c>dim_param</c>, e.g. a batch
/// dimension <c>N</c>), or unknown.
/// </summary>
public readonly record struct Dim
{
    Dim(long value, string? symbol)
    {
        Value = value;
        Symbol = symbol;
    }

    /// <summary>The size, or -1 when not known.</summary>
    public long Value { get; }

    /// <summary>The symbol's name when the size is symbolic.</summary>
    public string? Symbol { get; }

    /// <summary>True when the size is a number.</summary>
    public bool IsKnown => Value >= 0;

    /// <summary>A dimension of known size.</summary>
    public static Dim Of(long value) => value >= 0
        ? new Dim(value, null)
        : throw new ArgumentOutOfRangeException(nameof(value), "a dimension cannot be negative");

    /// <summary>A named, symbolic dimension.</summary>
    public static Dim Named(string symbol) => new(-1, symbol);

    /// <summary>A dimension about which nothing is known.</summary>
    public static Dim Unknown => new(-1, null);

    /// <inheritdoc />
    public override string ToString() => IsKnown ? Value.ToString(System.Globalization.CultureInfo.InvariantCulture) : Symbol ?? "?";

    /// <summary>Allows <c>Dim d = 28;</c>.</summary>
    public static implicit operator Dim(long value) => Of(value);
}

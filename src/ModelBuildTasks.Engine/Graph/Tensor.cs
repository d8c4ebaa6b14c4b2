using System.Runtime.InteropServices;

namespace ModelBuildTasks.Graph;

/// <summary>
/// A constant tensor (an initializer): element type, dimensions and the values as little-endian
/// bytes. Keeping raw bytes makes every element type one code path; typed views are spans over them.
/// </summary>
public sealed class Tensor
{
    /// <summary>Creates a tensor; <paramref name="data"/> must hold exactly the elements of <paramref name="dims"/>.</summary>
    public Tensor(string name, ElementType type, long[] dims, byte[] data)
    {
        var size = ElementTypes.SizeOf(type);
        if (size == 0) throw new ArgumentException($"element type {ElementTypes.Name(type)} has no fixed size", nameof(type));
        if (dims.Any(d => d < 0)) throw new ArgumentException("dimensions cannot be negative", nameof(dims));
        long count;
        try { count = checked(dims.Aggregate(1L, (n, d) => n * d) * size) / size; }
        catch (OverflowException) { throw new ArgumentException($"tensor '{name}' has dimensions [{string.Join(",", dims)}] whose product overflows", nameof(dims)); }
        if (count * size != data.Length)
            throw new ArgumentException($"tensor '{name}' has {data.Length} bytes, but [{string.Join(",", dims)}] {ElementTypes.Name(type)} needs {count * size}", nameof(data));
        Name = name;
        Type = type;
        Dims = dims;
        Data = data;
    }

    /// <summary>The tensor's name in the graph.</summary>
    public string Name { get; set; }

    /// <summary>The element type.</summary>
    public ElementType Type { get; }

    /// <summary>The dimensions.</summary>
    public long[] Dims { get; }

    /// <summary>The values, little-endian, row-major.</summary>
    public byte[] Data { get; }

    /// <summary>The number of elements.</summary>
    public long ElementCount => Dims.Aggregate(1L, (n, d) => n * d);

    /// <summary>The shape as a <see cref="TensorShape"/>.</summary>
    public TensorShape Shape => TensorShape.Of(Dims);

    /// <summary>A writable view of a float tensor's values.</summary>
    public Span<float> Floats => Type == ElementType.Float
        ? MemoryMarshal.Cast<byte, float>(Data.AsSpan())
        : throw new InvalidOperationException($"tensor '{Name}' is {ElementTypes.Name(Type)}, not float");

    /// <summary>The values of an integer tensor (int8 to int64) widened to <see cref="long"/>.</summary>
    public long[] ToInt64s()
    {
        var span = Data.AsSpan();
        return Type switch
        {
            ElementType.Int64 => MemoryMarshal.Cast<byte, long>(span).ToArray(),
            ElementType.Int32 => MemoryMarshal.Cast<byte, int>(span).ToArray().Select(v => (long)v).ToArray(),
            ElementType.Int8 => MemoryMarshal.Cast<byte, sbyte>(span).ToArray().Select(v => (long)v).ToArray(),
            ElementType.UInt8 => span.ToArray().Select(v => (long)v).ToArray(),
            _ => throw new InvalidOperationException($"tensor '{Name}' is {ElementTypes.Name(Type)}, not an integer type"),
        };
    }

    /// <summary>A float tensor with the given values (copied).</summary>
    public static Tensor FromFloats(string name, long[] dims, ReadOnlySpan<float> values) =>
        new(name, ElementType.Float, dims, MemoryMarshal.AsBytes(values).ToArray());

    /// <summary>An int64 tensor with the given values (copied).</summary>
    public static Tensor FromInt64s(string name, long[] dims, ReadOnlySpan<long> values) =>
        new(name, ElementType.Int64, dims, MemoryMarshal.AsBytes(values).ToArray());
}

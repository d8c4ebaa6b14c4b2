using ModelBuildTasks.Graph;
using ModelBuildTasks.Shapes;

namespace ModelBuildTasks.Inspection;

/// <summary>A value's name, element type and shape, as shown by <c>inspect</c>.</summary>
/// <param name="Name">The value's name.</param>
/// <param name="Type">Element type name (<c>float</c>, ...).</param>
/// <param name="Shape">Dimensions; symbolic ones by name.</param>
public sealed record TensorSummary(string Name, string Type, IReadOnlyList<string> Shape);

/// <summary>What <c>inspect</c> reports about a model.</summary>
public sealed record ModelSummary
{
    /// <summary>The ONNX IR version.</summary>
    public long IrVersion { get; init; }
    /// <summary>The default-domain opset version.</summary>
    public long Opset { get; init; }
    /// <summary>Producer name and version.</summary>
    public string Producer { get; init; } = "";
    /// <summary>The graph's inputs (initializers excluded).</summary>
    public IReadOnlyList<TensorSummary> Inputs { get; init; } = [];
    /// <summary>The graph's outputs, with inferred shapes where the file has none.</summary>
    public IReadOnlyList<TensorSummary> Outputs { get; init; } = [];
    /// <summary>Node count per operator type, sorted by name.</summary>
    public IReadOnlyDictionary<string, int> Ops { get; init; } = new SortedDictionary<string, int>();
    /// <summary>Number of weights (elements of every initializer but quantization scales and zero points), whatever their type.</summary>
    public long Parameters { get; init; }
    /// <summary>Weights that are not zero (pruned weights and padded channels are): what the model multiplies by.</summary>
    public long NonzeroParameters { get; init; }
    /// <summary>The file's size in bytes (including external data).</summary>
    public long Bytes { get; init; }
    /// <summary>Bytes of all initializers.</summary>
    public long WeightBytes { get; init; }
    /// <summary>Operators the engine does not support.</summary>
    public IReadOnlyList<UnsupportedOperator> Unsupported { get; init; } = [];

    static bool IsQuantizationParameter(string name) => name.EndsWith("_scale", StringComparison.Ordinal) || name.EndsWith("_zero_point", StringComparison.Ordinal);

    /// <summary>Summarises a model; <paramref name="fileBytes"/> is its size on disk.</summary>
    public static ModelSummary Of(OnnxModel model, long fileBytes)
    {
        var inference = ShapeInference.Infer(model.Graph);
        TensorSummary Describe(ValueInfo v)
        {
            var info = v.Shape is null && inference.Values.TryGetValue(v.Name, out var inferred) ? inferred : v;
            return new TensorSummary(v.Name, ElementTypes.Name(info.Type), info.Shape?.Dims.Select(d => d.ToString()).ToArray() ?? []);
        }
        return new ModelSummary
        {
            IrVersion = model.IrVersion,
            Opset = model.OpsetVersion,
            Producer = $"{model.ProducerName} {model.ProducerVersion}".Trim(),
            Inputs = model.Graph.Inputs.Select(Describe).ToList(),
            Outputs = model.Graph.Outputs.Select(Describe).ToList(),
            Ops = new SortedDictionary<string, int>(model.Graph.Nodes.GroupBy(n => n.OpType).ToDictionary(g => g.Key, g => g.Count()), StringComparer.Ordinal),
            // Every weight counts, whatever its type: a quantized model's int8 weights are its parameters.
            Parameters = model.Graph.Initializers.Values.Where(t => !IsQuantizationParameter(t.Name)).Sum(t => t.ElementCount),
            NonzeroParameters = NonzeroWeights(model),
            Bytes = fileBytes,
            WeightBytes = model.Graph.Initializers.Values.Sum(t => (long)t.Data.Length),
            Unsupported = inference.Unsupported,
        };
    }

    /// <summary>Weights left that the app multiplies by: nonzero elements of the float, int8 and int32 weight tensors (scales and zero points aside).</summary>
    public static long NonzeroWeights(OnnxModel model) =>
        model.Graph.Initializers.Values
            .Where(t => t.Dims.Length > 0 && (t.Type is ElementType.Float or ElementType.Int8 or ElementType.Int32) && !IsQuantizationParameter(t.Name))
            .Sum(t => t.Type switch
            {
                ElementType.Float => (long)t.Floats.ToArray().Count(v => v != 0),
                ElementType.Int8 => t.Data.Count(b => b != 0),
                _ => System.Runtime.InteropServices.MemoryMarshal.Cast<byte, int>(t.Data.AsSpan()).ToArray().Count(v => v != 0),
            });
}

namespace ModelBuildTasks.Onnx;

/// <summary>
/// The one rule for whether a classifier's output already is probabilities: it is made by a
/// Softmax over its last axis. The engine records the answer in the container
/// (<c>output_probabilities</c>: the runtime passes them through instead of a second softmax, and
/// training takes their log), and the MSBuild task in the design-time and uncompressed classes,
/// so both must answer alike. They see the graph differently (the engine's IR, the task's raw
/// protobuf fields, see <see cref="OnnxSignature"/>), so the rule takes a lookup of producers.
/// </summary>
public static class SoftmaxOutput
{
    /// <summary>A node as the rule needs it.</summary>
    /// <param name="OpType">The operator.</param>
    /// <param name="FirstInput">Its first input, or null when it has none.</param>
    /// <param name="Axis">Its <c>axis</c> attribute; -1 when absent (Softmax's default from opset 13).</param>
    public readonly record struct Producer(string OpType, string? FirstInput, long Axis);

    /// <summary>
    /// Whether <paramref name="output"/> is made by a Softmax over its last axis (the classes of an [N, C]
    /// output, axis -1 or 1), through any Identity or Dropout an exporter put after it to name the output,
    /// and through the Cast back to float that ends a model computed in float16 (which the engine's import
    /// turns into an Identity, so the raw model and the imported one answer alike).
    /// </summary>
    /// <param name="output">The output's name (the first graph output).</param>
    /// <param name="producerOf">The node that makes a value, or null for graph inputs and initializers.</param>
    public static bool EndsInSoftmax(string output, Func<string, Producer?> producerOf)
    {
        var visited = new HashSet<string>(StringComparer.Ordinal) { output };
        var node = producerOf(output);
        // A cycle of pass-through nodes is a broken graph, reported elsewhere: here it only must not loop.
        while (node is { OpType: "Identity" or "Dropout" or "Cast", FirstInput: { } input } && visited.Add(input)) node = producerOf(input);
        return node is { OpType: "Softmax", Axis: -1 or 1 };
    }
}

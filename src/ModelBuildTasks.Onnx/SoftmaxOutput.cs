namespace ModelBuildTasks.Onnx;

/// <summary>
/// The one rule for whether a classifier's output already is probabilities: it is made by a
/// Softmax over its last axis, or by a Sigmoid (one probability per class, a multi-label model's).
/// The engine records the answer in the container (<c>output_probabilities</c>: the runtime passes
/// them through instead of a softmax), and the MSBuild task in the design-time and uncompressed
/// classes, so both must answer alike; training takes the log of a Softmax's outputs. They see the graph differently (the engine's IR, the task's raw
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
    public static bool EndsInSoftmax(string output, Func<string, Producer?> producerOf) =>
        LastComputed(output, producerOf) is { OpType: "Softmax", Axis: -1 or 1 };

    /// <summary>
    /// Whether <paramref name="output"/> already is probabilities: made by a Softmax over its last axis (<see
    /// cref="EndsInSoftmax"/>) or by a Sigmoid, whose per-class probabilities a softmax would turn into other numbers
    /// (0.9 and 0.8 of two classes into 0.52 and 0.48).
    /// </summary>
    /// <param name="output">The output's name (the first graph output).</param>
    /// <param name="producerOf">The node that makes a value, or null for graph inputs and initializers.</param>
    public static bool EndsInProbabilities(string output, Func<string, Producer?> producerOf) =>
        EndsInSoftmax(output, producerOf) || LastComputed(output, producerOf) is { OpType: "Sigmoid" };

    // The node that computes the output's values, past the pass-through nodes an exporter or a float16 model puts after it.
    static Producer? LastComputed(string output, Func<string, Producer?> producerOf)
    {
        var visited = new HashSet<string>(StringComparer.Ordinal) { output };
        var node = producerOf(output);
        // A cycle of pass-through nodes is a broken graph, reported elsewhere: here it only must not loop.
        while (node is { OpType: "Identity" or "Dropout" or "Cast", FirstInput: { } input } && visited.Add(input)) node = producerOf(input);
        return node;
    }
}

using ModelBuildTasks.Graph;

namespace ModelBuildTasks.Passes;

/// <summary>
/// Turns a uint8 image input that the graph casts to float before anything else reads it (Keras' and tf2onnx's
/// raw-pixel models, a wrapper that takes camera bytes) into a float input of the same pixel values, and drops the
/// Cast: every part of the product feeds floats. The model computes what it did for every 8-bit image; the data are
/// taken as pixel values (scale 1) unless a scale is given (<see cref="Requested"/>).
/// </summary>
public static class PixelInput
{
    /// <summary>The metadata key that records the conversion (value: the original element type), so reports and <c>inspect</c> can say so.</summary>
    public const string MetadataKey = "converted_input_type";

    /// <summary>Converts the input when it is uint8 and only Casts to float read it; returns whether it did.</summary>
    public static bool Apply(OnnxModel model)
    {
        var graph = model.Graph;
        if (graph.Inputs.Count != 1 || graph.Inputs[0] is not { Type: ElementType.UInt8 } input) return false;
        if (InputReaders.OnlyAdapters(graph, input.Name, IsCastToFloat) is not { } casts) return false;

        graph.Inputs[0] = input with { Type = ElementType.Float };
        InputReaders.Bypass(graph, casts, input.Name);
        model.Metadata[MetadataKey] = "uint8";
        return true;
    }

    /// <summary><see cref="Data.PreprocessSpec.Requested"/> for <paramref name="model"/>: its stored preprocessing, and whether this pass converted its input.</summary>
    /// <exception cref="ModelBuildException">With code <see cref="ErrorCodes.InvalidPreprocessing"/> when the text is malformed.</exception>
    public static Data.PreprocessSpec Requested(string? given, OnnxModel model) =>
        Data.PreprocessSpec.Requested(given, model.Metadata.GetValueOrDefault("preprocess"), model.Metadata.ContainsKey(MetadataKey));

    static bool IsCastToFloat(Node node) =>
        node.OpType == "Cast" && (node.Domain is "" or "ai.onnx") && node.GetInt("to", 0) == (long)ElementType.Float;
}

using System.Text.Json;
using System.Text.Json.Serialization;

namespace ModelBuildTasks.Container;

/// <summary>A model input or output as described in the metadata.</summary>
/// <param name="Name">The tensor's name.</param>
/// <param name="Type">Element type name, e.g. <c>float</c>.</param>
/// <param name="Shape">Dimensions; symbolic ones by name (<c>N</c>).</param>
public sealed record TensorDescription(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("shape")] IReadOnlyList<string> Shape);

/// <summary>Measured accuracies, as fractions in [0, 1].</summary>
/// <param name="Baseline">The original model on the validation data.</param>
/// <param name="Final">The compressed model on the validation data.</param>
/// <param name="Test">The compressed model on held-out test data, when given.</param>
/// <param name="Measure">What the validation figures measure: <c>accuracy</c>, <c>agreement</c> or <c>cosine</c> (absent in containers written before it was recorded: accuracy).</param>
/// <param name="TestMeasure">What the test figure measures (agreement when the test images have no labels).</param>
public sealed record AccuracyFigures(
    [property: JsonPropertyName("baseline")] double? Baseline,
    [property: JsonPropertyName("final")] double? Final,
    [property: JsonPropertyName("test")] double? Test,
    [property: JsonPropertyName("measure")] string? Measure = null,
    [property: JsonPropertyName("test_measure")] string? TestMeasure = null);

/// <summary>The metadata block of a container (docs/format.md, "Metadata"). Serialized with a fixed key order.</summary>
public sealed record ContainerMetadata
{
    /// <summary>Always <c>mbt-cmodel</c>.</summary>
    [JsonPropertyName("format")] public string Format { get; init; } = "mbt-cmodel";
    /// <summary>The model's inputs.</summary>
    [JsonPropertyName("inputs")] public IReadOnlyList<TensorDescription> Inputs { get; init; } = [];
    /// <summary>The model's outputs.</summary>
    [JsonPropertyName("outputs")] public IReadOnlyList<TensorDescription> Outputs { get; init; } = [];
    /// <summary>
    /// What the first output is: <c>classes</c> (class scores, one per label; an app picks the top
    /// one) or <c>features</c> (an embedding or feature map, judged by cosine similarity; no labels,
    /// no softmax). Containers written before this key existed hold classifiers.
    /// </summary>
    [JsonPropertyName("output_kind")] public string OutputKind { get; init; } = Classes;
    /// <summary>
    /// Whether a classifier's output already is probabilities (the graph ends in a Softmax over the
    /// classes, or in a Sigmoid), so an app's probabilities pass it through instead of applying softmax
    /// (a second softmax flattened 0.75 to 0.19 on ten classes). Absent in older containers: false.
    /// </summary>
    [JsonPropertyName("output_probabilities")] public bool OutputProbabilities { get; init; }
    /// <summary>Class names by index.</summary>
    [JsonPropertyName("labels")] public IReadOnlyList<string> Labels { get; init; } = [];
    /// <summary>The preprocessing the model expects (canonical spec text).</summary>
    [JsonPropertyName("preprocess")] public string Preprocess { get; init; } = "";
    /// <summary>
    /// How an 8-bit image file becomes the model's input, where that differs from <see cref="Preprocess"/>: for a model
    /// measured on float data (an <c>.npz</c> of floats in 0..1, which <see cref="Preprocess"/> takes as they are),
    /// <c>scale=1/255</c>. Absent otherwise, and in older containers: image files then take <see cref="Preprocess"/>.
    /// </summary>
    [JsonPropertyName("image_preprocess"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? ImagePreprocess { get; init; }
    /// <summary>Compression settings used, sorted by key.</summary>
    [JsonPropertyName("compression")] public IReadOnlyDictionary<string, string> Compression { get; init; } = new SortedDictionary<string, string>(StringComparer.Ordinal);
    /// <summary>Measured accuracies.</summary>
    [JsonPropertyName("accuracy")] public AccuracyFigures Accuracy { get; init; } = new(null, null, null);
    /// <summary>SHA-256 (hex) of the original ONNX file.</summary>
    [JsonPropertyName("source_sha256")] public string SourceSha256 { get; init; } = "";
    /// <summary>The engine version that wrote the container.</summary>
    [JsonPropertyName("engine_version")] public string EngineVersion { get; init; } = "";

    /// <summary>The <see cref="OutputKind"/> of a classifier.</summary>
    public const string Classes = "classes";
    /// <summary>The <see cref="OutputKind"/> of a feature extractor.</summary>
    public const string Features = "features";

    /// <summary>Whether the model outputs class scores.</summary>
    [JsonIgnore] public bool IsClassifier => OutputKind != Features;

    /// <summary>The JSON text.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, ContainerMetadataJson.Default.ContainerMetadata);

    /// <summary>Parses the JSON text; throws <see cref="ContainerFormatException"/> when it is not valid metadata.</summary>
    public static ContainerMetadata Parse(string json)
    {
        try
        {
            var metadata = JsonSerializer.Deserialize(json, ContainerMetadataJson.Default.ContainerMetadata);
            if (metadata is not { Format: "mbt-cmodel" }) throw new ContainerFormatException("the metadata is not of format mbt-cmodel", 64);
            // Containers written before output_kind existed hold classifiers. The generated deserializer leaves a member
            // whose key is absent at null (it skips the initializer), so null is read as absent here.
            if (metadata.OutputKind is null) metadata = metadata with { OutputKind = Classes };
            // JSON null passes the serializer for non-nullable members; readers rely on them, so a null is a damaged file.
            if (metadata.OutputKind is not (Classes or Features))
                throw new ContainerFormatException($"the metadata's output_kind is '{metadata.OutputKind}', not '{Classes}' or '{Features}'", 64);
            if (metadata.Inputs is null || metadata.Outputs is null || metadata.Labels is null || metadata.Preprocess is null || metadata.Compression is null
                || metadata.Accuracy is null || metadata.SourceSha256 is null || metadata.EngineVersion is null
                || metadata.Labels.Any(l => l is null) || metadata.Compression.Any(kv => kv.Value is null)
                || metadata.Inputs.Concat(metadata.Outputs).Any(t => t is null || t.Name is null || t.Type is null || t.Shape is null || t.Shape.Any(d => d is null)))
                throw new ContainerFormatException("the metadata has a null where a value is required", 64);
            return metadata;
        }
        catch (JsonException e)
        {
            throw new ContainerFormatException($"the metadata is not valid JSON: {e.Message}", 64);
        }
        catch (Exception e) when (e is NotSupportedException or InvalidOperationException or ArgumentException)
        {
            throw new ContainerFormatException($"the metadata cannot be read: {e.Message}", 64);
        }
    }
}

/// <summary>
/// The metadata's JSON (de)serialization, generated at compile time: an app published trimmed or as
/// native AOT keeps no reflection metadata for these types, and every container failed to load there
/// ("Reflection-based serialization has been disabled").
/// </summary>
[JsonSourceGenerationOptions(WriteIndented = false, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(ContainerMetadata))]
internal sealed partial class ContainerMetadataJson : JsonSerializerContext;

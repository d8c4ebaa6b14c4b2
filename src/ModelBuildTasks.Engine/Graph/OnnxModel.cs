namespace ModelBuildTasks.Graph;

/// <summary>An operator set a model imports.</summary>
/// <param name="Domain">The domain, empty for the default ONNX domain.</param>
/// <param name="Version">The opset version.</param>
public sealed record OpsetImport(string Domain, long Version);

/// <summary>A whole model in the engine's IR: the graph plus the model-level fields of an ONNX file.</summary>
public sealed class OnnxModel
{
    /// <summary>The ONNX IR version the model declares.</summary>
    public long IrVersion { get; set; } = 8;

    /// <summary>The imported operator sets.</summary>
    public List<OpsetImport> Opsets { get; } = [new("", 13)];

    /// <summary>The tool that wrote the model.</summary>
    public string ProducerName { get; set; } = "ModelBuildTasks";

    /// <summary>The version of that tool.</summary>
    public string ProducerVersion { get; set; } = "";

    /// <summary>The model's domain, if any.</summary>
    public string Domain { get; set; } = "";

    /// <summary>The model's version number.</summary>
    public long ModelVersion { get; set; }

    /// <summary>Free text documentation.</summary>
    public string DocString { get; set; } = "";

    /// <summary>The computation graph.</summary>
    public ModelGraph Graph { get; set; } = new();

    /// <summary>Key/value metadata (labels, preprocessing, ...).</summary>
    public OrderedDictionary<string, string> Metadata { get; } = new(StringComparer.Ordinal);

    /// <summary>The version of the default ONNX opset, or 0 if none is imported.</summary>
    public long OpsetVersion => Opsets.FirstOrDefault(o => o.Domain is "" or "ai.onnx")?.Version ?? 0;
}

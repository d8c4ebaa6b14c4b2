using ModelBuildTasks.Container;

namespace ModelBuildTasks.Compression;

/// <summary>The outcome of one compression: the container and every figure measured on the way.</summary>
public sealed record CompressionResult
{
    /// <summary>The container to embed (compressed, or the original model when the target was missed and that was allowed).</summary>
    public required byte[] Container { get; init; }
    /// <summary>Its metadata.</summary>
    public required ContainerMetadata Metadata { get; init; }
    /// <summary>Bytes of the original ONNX file.</summary>
    public long OriginalBytes { get; init; }
    /// <summary>Bytes of the container.</summary>
    public long CompressedBytes => Container.Length;
    /// <summary>OriginalBytes / CompressedBytes.</summary>
    public double Ratio => (double)OriginalBytes / Math.Max(1, CompressedBytes);
    /// <summary>The original model's validation accuracy.</summary>
    public double BaselineAccuracy { get; init; }
    /// <summary>The target the final model had to meet.</summary>
    public double TargetAccuracy { get; init; }
    /// <summary>The compressed model's validation accuracy (measured on the decoded container).</summary>
    public double FinalAccuracy { get; init; }
    /// <summary>The original model's accuracy on the held-out test data, when given.</summary>
    public double? BaselineTestAccuracy { get; init; }
    /// <summary>The compressed model's accuracy on the held-out test data, when given.</summary>
    public double? TestAccuracy { get; init; }
    /// <summary>True when accuracies are against labels (false: agreement with the original model).</summary>
    public bool AgainstLabels { get; init; }
    /// <summary>True when <see cref="FinalAccuracy"/> &gt;= <see cref="TargetAccuracy"/>.</summary>
    public bool TargetMet { get; init; }
    /// <summary>Candidate models evaluated.</summary>
    public int Evaluations { get; init; }
    /// <summary>Wall-clock seconds.</summary>
    public double Seconds { get; init; }
    /// <summary>The settings that were asked for.</summary>
    public required CompressionSettings Settings { get; init; }
    /// <summary>What was chosen: bits, calibration, ...</summary>
    public required IReadOnlyDictionary<string, string> Chosen { get; init; }
    /// <summary>Every candidate tried: its settings, bytes and validation accuracy.</summary>
    public required IReadOnlyList<CandidateResult> Candidates { get; init; }
    /// <summary>Median single-image latency of the original and the compressed model (ms), measured in the same run.</summary>
    public (double Original, double Compressed) LatencyMs { get; init; }
}

/// <summary>One evaluated candidate.</summary>
/// <param name="Description">Its settings, e.g. <c>iq bits=8 calibration=minmax</c>.</param>
/// <param name="Bytes">Its container size.</param>
/// <param name="Accuracy">Its validation accuracy.</param>
public sealed record CandidateResult(string Description, long Bytes, double Accuracy);

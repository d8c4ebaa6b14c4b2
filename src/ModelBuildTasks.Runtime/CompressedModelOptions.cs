namespace ModelBuildTasks.Runtime;

/// <summary>How a <see cref="CompressedModel"/> sets up ONNX Runtime.</summary>
public sealed record CompressedModelOptions
{
    /// <summary>Intra-op threads; 0 lets ONNX Runtime choose (one per core).</summary>
    public int IntraOpThreads { get; init; }
}

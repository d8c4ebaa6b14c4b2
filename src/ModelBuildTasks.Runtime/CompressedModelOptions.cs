using Microsoft.ML.OnnxRuntime;

namespace ModelBuildTasks.Runtime;

/// <summary>How a <see cref="CompressedModel"/> sets up ONNX Runtime.</summary>
public sealed record CompressedModelOptions
{
    /// <summary>Intra-op threads; 0 lets ONNX Runtime choose (one per core).</summary>
    public int IntraOpThreads { get; init; }

    /// <summary>
    /// Called with ONNX Runtime's session options just before the session is created, after the
    /// defaults (full graph optimisation, <see cref="IntraOpThreads"/>) are set: append an execution
    /// provider (<c>o.AppendExecutionProvider_CUDA()</c>, DirectML, CoreML, ...; the matching ONNX Runtime
    /// package must be referenced), or change any other option. The options object is owned and
    /// disposed by the model: do not keep it.
    /// </summary>
    public Action<SessionOptions>? ConfigureSession { get; init; }
}

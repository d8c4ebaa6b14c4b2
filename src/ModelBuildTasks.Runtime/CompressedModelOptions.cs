using Microsoft.ML.OnnxRuntime;

namespace ModelBuildTasks.Runtime;

/// <summary>How a <see cref="CompressedModel"/> sets up ONNX Runtime.</summary>
public sealed record CompressedModelOptions
{
    /// <summary>
    /// Intra-op threads; 0 means one per logical processor (<see cref="Environment.ProcessorCount"/>, which follows a
    /// container's CPU limit), the count the engine measured latency with. <see cref="ConfigureSession"/> may still change it.
    /// </summary>
    public int IntraOpThreads { get; init; }

    /// <summary>
    /// Whether a batch of several images (<see cref="CompressedModel.Run"/> with a count above 1) is split into one
    /// part per thread (<see cref="IntraOpThreads"/>, else one per logical processor), the parts run at once with one
    /// intra-op thread each; single images then run on one thread or on every intra-op thread, whichever the first
    /// single images ran faster on (<see cref="CompressedModel.SingleImageThreads"/>). On by default, and off whenever
    /// <see cref="ConfigureSession"/> is set (an execution provider such as CUDA wants the whole batch).
    /// The every-thread session is a second ONNX Runtime session, created at the first single image: it holds its own
    /// copy of the weights (a few megabytes for a compressed model; the whole float model for <c>LoadOnnx</c>). Turn this
    /// off where memory counts more than the time of a single image. The two sessions' outputs may differ in the last
    /// bits of a float (their kernels sum in another order); no class changes for that.
    /// </summary>
    public bool SplitBatches { get; init; } = true;

    /// <summary>
    /// The most pixels an image given to <c>PredictImage</c> or <c>PreprocessImage</c> may have (width x height); a larger
    /// one is an <see cref="InvalidDataException"/> before it is decoded. Decoding and resizing cost about 16 bytes per
    /// pixel for a moment: the default, 2^26 (8192 x 8192), can take a gigabyte for a file of a few hundred kilobytes
    /// (a PNG of one colour), so a service that takes images from others should set what its images need, such as
    /// <c>4096 * 4096</c>. At most 2^26.
    /// </summary>
    public long MaxImagePixels { get; init; } = ImageDecoding.MaxImagePixels;

    /// <summary>
    /// Called with ONNX Runtime's session options just before the session is created, after the
    /// defaults (full graph optimisation, <see cref="IntraOpThreads"/>) are set: append an execution
    /// provider (<c>o.AppendExecutionProvider_CUDA()</c>, DirectML, CoreML, ...; the matching ONNX Runtime
    /// package must be referenced), or change any other option. The options object is owned and
    /// disposed by the model: do not keep it.
    /// </summary>
    public Action<SessionOptions>? ConfigureSession { get; init; }
}

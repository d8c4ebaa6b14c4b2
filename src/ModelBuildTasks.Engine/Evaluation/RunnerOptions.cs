namespace ModelBuildTasks.Evaluation;

/// <summary>How ONNX Runtime sessions are set up for evaluation.</summary>
public sealed record RunnerOptions
{
    /// <summary>Intra-op threads; 0 means one per core. Set deliberately, and reported, because latency depends on it.</summary>
    public int Threads { get; init; }

    /// <summary>Images per batch for accuracy runs (ignored when the model has a fixed batch size).</summary>
    public int BatchSize { get; init; } = Runtime.BatchParts.MaxImagesPerRun;

    /// <summary>
    /// The most input values one batch may hold: larger images get smaller batches (at least one
    /// image), because a 224x224 network's activations grow with the batch far past its input (ONNX
    /// Runtime keeps them in an arena sized by the largest batch run).
    /// </summary>
    public long MaxBatchValues { get; init; } = Runtime.BatchParts.MaxValuesPerRun;

    /// <summary>Whether ONNX Runtime optimises the graph (fusions, int8 kernels). Off only where intermediate tensors must be computed exactly as written, as in calibration.</summary>
    public bool Optimize { get; init; } = true;

    /// <summary>
    /// Whether a batch of several images is split into <see cref="EffectiveThreads"/> parts run at
    /// once, each on one thread, instead of one run with that many intra-op threads; single images
    /// then run on one thread or on every thread, whichever the runner measures faster
    /// (<see cref="ModelRunner.SingleImageThreads"/>). On by default: at 28x28 it made every sample's
    /// int8 model 1.2-1.4x faster at batch 64 on two threads, and their fp32 originals as fast or faster.
    /// Nothing splits when the model's batch size is fixed or its images are so large that a run holds one
    /// (<see cref="MaxBatchValues"/>): every image then runs on every thread.
    /// </summary>
    public bool SplitBatches { get; init; } = true;

    /// <summary>The threads actually used.</summary>
    public int EffectiveThreads => Threads > 0 ? Threads : Environment.ProcessorCount;
}

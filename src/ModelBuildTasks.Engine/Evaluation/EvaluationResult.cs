namespace ModelBuildTasks.Evaluation;

/// <summary>What an evaluation measured.</summary>
/// <param name="Accuracy">Top-1 accuracy in [0, 1]: against the labels, or (unlabeled data) agreement with the reference model's top-1.</param>
/// <param name="AgainstLabels">True when <paramref name="Accuracy"/> is against labels; false when it is agreement with a reference.</param>
/// <param name="Images">Images evaluated.</param>
/// <param name="LatencyMsMedian">Median single-image latency in milliseconds; null when none was measured (no latency samples).</param>
/// <param name="LatencyMsP90">90th percentile single-image latency in milliseconds; null when none was measured.</param>
/// <param name="Threads">ONNX Runtime intra-op threads used.</param>
/// <param name="BatchSize">Images per batch in the accuracy run.</param>
/// <param name="ImagesPerSecond">Throughput of the batched accuracy run.</param>
/// <param name="SingleImageThreads">Threads the single images of the latency run used: one or <paramref name="Threads"/>, whichever the runner measured faster (null when no latency was measured before the choice).</param>
public sealed record EvaluationResult(
    double Accuracy,
    bool AgainstLabels,
    int Images,
    double? LatencyMsMedian,
    double? LatencyMsP90,
    int Threads,
    int BatchSize,
    double ImagesPerSecond,
    int? SingleImageThreads);

using ModelBuildTasks.Data;
using ModelBuildTasks.Progress;

namespace ModelBuildTasks.Evaluation;

/// <summary>Measures top-1 accuracy and latency of an ONNX model on a dataset.</summary>
public static class Evaluator
{
    /// <summary>
    /// Evaluates <paramref name="onnx"/> on <paramref name="data"/>: top-1 agreement with
    /// <paramref name="referenceOnnx"/> when one is given (labelled data or not: asked for, it is what the
    /// caller wants to know), else accuracy against the labels, else agreement with the model itself
    /// (unlabeled data, so latency can still be measured).
    /// </summary>
    /// <param name="onnx">The model to evaluate.</param>
    /// <param name="data">Preprocessed images.</param>
    /// <param name="options">Session settings.</param>
    /// <param name="referenceOnnx">The model whose predictions the model's are compared with, instead of the labels.</param>
    /// <param name="latencySamples">Single-image runs timed for latency (0 to skip).</param>
    /// <param name="progress">Receives progress of the accuracy run.</param>
    /// <param name="displayPath">The model's name in error messages.</param>
    public static EvaluationResult Evaluate(byte[] onnx, ImageDataset data, RunnerOptions? options = null, byte[]? referenceOnnx = null,
        int latencySamples = 100, IProgress<ProgressUpdate>? progress = null, string? displayPath = null)
    {
        if (data.Count == 0) throw new ModelBuildException(ErrorCodes.InvalidDataset, "the dataset has no images", data.Source);
        using var runner = new ModelRunner(onnx, options, displayPath);
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var predictions = runner.PredictTop1(data, progress);
        var seconds = System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds;

        int[] truth;
        if (referenceOnnx is not null)
        {
            using var reference = new ModelRunner(referenceOnnx, options, "reference model");
            truth = reference.PredictTop1(data);
        }
        else truth = data.Labels ?? predictions;
        var latencies = latencySamples > 0 ? runner.MeasureLatency(data, latencySamples) : [];
        return new EvaluationResult(
            Accuracy: Agreement(predictions, truth),
            AgainstLabels: referenceOnnx is null && data.HasLabels,
            Images: data.Count,
            LatencyMsMedian: latencies.Length > 0 ? Percentile(latencies, 0.5) : null,
            LatencyMsP90: latencies.Length > 0 ? Percentile(latencies, 0.9) : null,
            Threads: runner.Options.EffectiveThreads,
            BatchSize: runner.BatchSize(data.ImageSize),
            ImagesPerSecond: data.Count / Math.Max(seconds, 1e-9),
            SingleImageThreads: runner.SingleImageThreads);
    }

    /// <summary>The fraction of positions where the two predictions agree.</summary>
    public static double Agreement(IReadOnlyList<int> a, IReadOnlyList<int> b)
    {
        if (a.Count != b.Count) throw new ArgumentException("prediction lists differ in length");
        if (a.Count == 0) return 0;
        var same = 0;
        for (var i = 0; i < a.Count; i++) if (a[i] == b[i]) same++;
        return (double)same / a.Count;
    }

    /// <summary>The <paramref name="q"/> quantile (nearest rank) of <paramref name="values"/>; 0 for none.</summary>
    public static double Percentile(IReadOnlyList<double> values, double q)
    {
        if (values.Count == 0) return 0;
        var sorted = values.Order().ToArray();
        var rank = (int)Math.Ceiling(q * sorted.Length) - 1;
        return sorted[Math.Clamp(rank, 0, sorted.Length - 1)];
    }
}

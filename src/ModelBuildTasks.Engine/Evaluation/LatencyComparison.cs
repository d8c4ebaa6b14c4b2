using ModelBuildTasks.Data;

namespace ModelBuildTasks.Evaluation;

/// <summary>Single-image latency of two models measured side by side.</summary>
/// <param name="OriginalMs">Median milliseconds of the original model.</param>
/// <param name="CompressedMs">Median milliseconds of the compressed model.</param>
/// <param name="Rounds">Alternating rounds timed (one run of each model per round).</param>
/// <param name="Threads">ONNX Runtime intra-op threads of both sessions.</param>
public sealed record LatencyComparison(double OriginalMs, double CompressedMs, int Rounds, int Threads)
{
    /// <summary>How many times faster the compressed model is (below 1: slower).</summary>
    public double Speedup => CompressedMs > 0 ? OriginalMs / CompressedMs : 0;

    /// <summary>
    /// Times both models on the same images, alternating run by run (and which goes first), so a
    /// machine that is busy, throttled or warming up affects both alike; the medians and their
    /// ratio are what a single noisy figure per model is not. At least 30 rounds, then more until
    /// <paramref name="rounds"/> or about <paramref name="seconds"/> have passed.
    /// </summary>
    public static LatencyComparison Measure(byte[] original, byte[] compressed, ImageDataset data, RunnerOptions? options = null, int rounds = 300, double seconds = 6)
    {
        // Single images only: one session per model, with every intra-op thread (a split-batch runner would hold two).
        options = (options ?? new RunnerOptions()) with { SplitBatches = false };
        using var a = new ModelRunner(original, options, "original model");
        using var b = new ModelRunner(compressed, options, "compressed model");
        a.CheckCompatible(data);
        for (var i = 0; i < 5; i++) { a.TimeOne(data.Image(i % data.Count)); b.TimeOne(data.Image(i % data.Count)); }
        var timesA = new List<double>();
        var timesB = new List<double>();
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        for (var i = 0; i < rounds && (i < 30 || System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds < seconds); i++)
        {
            var image = data.Image(i % data.Count);
            if (i % 2 == 0) { timesA.Add(a.TimeOne(image)); timesB.Add(b.TimeOne(image)); }
            else { timesB.Add(b.TimeOne(image)); timesA.Add(a.TimeOne(image)); }
        }
        return new LatencyComparison(Evaluator.Percentile(timesA, 0.5), Evaluator.Percentile(timesB, 0.5), timesA.Count, a.Options.EffectiveThreads);
    }
}

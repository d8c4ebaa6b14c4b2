using ModelBuildTasks.Data;

namespace ModelBuildTasks.Evaluation;

/// <summary>Single-image latency of two models measured side by side.</summary>
/// <param name="OriginalMs">Median milliseconds of the original model.</param>
/// <param name="CompressedMs">Median milliseconds of the compressed model.</param>
/// <param name="Rounds">Alternating rounds timed (one run of each model per round).</param>
/// <param name="Threads">ONNX Runtime intra-op threads of both runners.</param>
/// <param name="OriginalThreads">Threads the original model's single images ran on: one or <paramref name="Threads"/>, whichever was faster.</param>
/// <param name="CompressedThreads">The same for the compressed model.</param>
public sealed record LatencyComparison(double OriginalMs, double CompressedMs, int Rounds, int Threads, int OriginalThreads, int CompressedThreads)
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
        // Runners as the shipped runtime runs single images: each on one thread or every thread, whichever it measures
        // faster, chosen during the warm-up.
        options ??= new RunnerOptions();
        using var a = new ModelRunner(original, options, "original model");
        using var b = new ModelRunner(compressed, options, "compressed model");
        a.CheckCompatible(data);
        for (var i = 0; i < 5 || a.SingleImageThreads is null || b.SingleImageThreads is null; i++) { a.TimeOne(data.Image(i % data.Count)); b.TimeOne(data.Image(i % data.Count)); }
        var timesA = new List<double>();
        var timesB = new List<double>();
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        for (var i = 0; i < rounds && (i < 30 || System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds < seconds); i++)
        {
            var image = data.Image(i % data.Count);
            if (i % 2 == 0) { timesA.Add(a.TimeOne(image)); timesB.Add(b.TimeOne(image)); }
            else { timesB.Add(b.TimeOne(image)); timesA.Add(a.TimeOne(image)); }
        }
        return new LatencyComparison(Evaluator.Percentile(timesA, 0.5), Evaluator.Percentile(timesB, 0.5), timesA.Count, a.Options.EffectiveThreads,
            a.SingleImageThreads!.Value, b.SingleImageThreads!.Value);
    }
}

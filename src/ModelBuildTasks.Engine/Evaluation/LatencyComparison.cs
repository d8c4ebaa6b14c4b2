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
    /// <paramref name="rounds"/> or about <paramref name="seconds"/> have passed. Each model runs on
    /// the threads the shipped runtime would give its single images (one, or every thread).
    /// </summary>
    public static LatencyComparison Measure(byte[] original, byte[] compressed, ImageDataset data, RunnerOptions? options = null, int rounds = 300, double seconds = 6)
    {
        options ??= new RunnerOptions();
        using var a = SingleImageRunner(original, options, data, "original model");
        using var b = SingleImageRunner(compressed, options, data, "compressed model");
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
        return new LatencyComparison(Evaluator.Percentile(timesA, 0.5), Evaluator.Percentile(timesB, 0.5), timesA.Count, options.EffectiveThreads,
            a.Options.EffectiveThreads, b.Options.EffectiveThreads);
    }

    // A runner of one session with the threads the shipped runtime would run single images on: one or every thread,
    // whichever SingleImageChoice finds faster. The two are timed one after the other, each on its own runner, not
    // side by side as the runtime does: a runner holding both sessions of a 224x224 model took this stage past 1.5 GB.
    // For the same reason the winner is created again rather than kept while the other one is timed. A model with a fixed
    // batch size has nothing to choose: the runtime runs it whole, on every thread.
    static ModelRunner SingleImageRunner(byte[] onnx, RunnerOptions options, ImageDataset data, string name)
    {
        var every = options with { Threads = options.EffectiveThreads, SplitBatches = false };
        if (every.Threads == 1 || !options.SplitBatches || ModelRunner.HasFixedBatch(onnx)) return new ModelRunner(onnx, every, name);
        var choice = new Runtime.SingleImageChoice();
        foreach (var candidate in new[] { every with { Threads = 1 }, every })
        {
            using var runner = new ModelRunner(onnx, candidate, name);
            runner.CheckCompatible(data);
            for (var i = 0; i < Runtime.SingleImageChoice.WarmUps + Runtime.SingleImageChoice.Trials; i++) choice.Record(candidate.Threads > 1, runner.TimeOne(data.Image(i % data.Count)));
        }
        return new ModelRunner(onnx, choice.EveryThread == true ? every : every with { Threads = 1 }, name);
    }
}

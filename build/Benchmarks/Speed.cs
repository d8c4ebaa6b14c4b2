using System.Diagnostics;
using System.Globalization;
using ModelBuildTasks.Data;
using ModelBuildTasks.Evaluation;

/// <summary>
/// The fp32 model against the compressed one in the same run, alternating rounds so that both see
/// the same machine state: per-image time at batch 1 (1 thread and 2 threads) and at batch 64
/// (2 threads: the batch split into two parts run at once, as the runners run batches, and for
/// comparison one run on two intra-op threads). Batch 1 at 28x28 is dominated by ONNX Runtime's
/// per-operator overhead; batch 64 is what a service classifying many images pays, where int8
/// kernels and removed channels count. Single images on two threads run as the runtime runs them,
/// on one thread or both, whichever each model is measured faster on (the cell says which).
/// </summary>
static class Speed
{
    public sealed record Figures(string Setting, double Fp32Ms, double CompressedMs, string Threads = "")
    {
        public double Ratio => Fp32Ms / CompressedMs;
    }

    static readonly (string Name, int Batch, int Threads, bool Split)[] Settings =
        [("batch 1, 1 thread", 1, 1, true), ("batch 1, 2 threads", 1, 2, true), ("batch 64, 2 threads", 64, 2, true), ("batch 64, 2 intra-op threads", 64, 2, false)];

    public static IReadOnlyList<Figures> Compare(byte[] fp32, byte[] compressed, ImageDataset images) =>
        [.. Settings.Select(s => Measure(s.Name, fp32, compressed, images, s.Batch, s.Threads, s.Split))];

    /// <summary>The Markdown header cells matching <see cref="Row"/>.</summary>
    public static string Header => string.Join(" | ", Settings.Select(s => $"per image, {s.Name}"));

    /// <summary>The Markdown rule under a header of a name cell and <see cref="Header"/>.</summary>
    public static string Rule => "|---|" + string.Concat(Settings.Select(_ => "---|"));

    /// <summary>One Markdown row: "fp32 ms → compressed ms (ratio)" per setting.</summary>
    public static string Row(IReadOnlyList<Figures> figures) => string.Join(" | ", figures.Select(f =>
        $"{f.Fp32Ms.ToString("0.000", CultureInfo.InvariantCulture)} → {f.CompressedMs.ToString("0.000", CultureInfo.InvariantCulture)} ms (**{Cells.Times(f.Ratio)}**){f.Threads}"));

    static Figures Measure(string setting, byte[] fp32, byte[] compressed, ImageDataset images, int batch, int threads, bool split)
    {
        var options = new RunnerOptions { Threads = threads, BatchSize = batch, SplitBatches = split };
        using var a = new ModelRunner(fp32, options);
        using var b = new ModelRunner(compressed, options);
        var runs = batch == 1 ? 200 : 20;
        var ta = new List<double>();
        var tb = new List<double>();
        for (var round = 0; round < 7; round++)
        {
            ta.AddRange(Times(a, images, batch, runs));
            tb.AddRange(Times(b, images, batch, runs));
        }
        var chosen = batch == 1 && threads > 1 ? $" on {a.SingleImageThreads} → {b.SingleImageThreads} threads" : "";
        return new Figures(setting, Evaluator.Percentile(ta, 0.5), Evaluator.Percentile(tb, 0.5), chosen);
    }

    // Milliseconds per image of `runs` runs of `batch` images each, after a warm-up.
    static IEnumerable<double> Times(ModelRunner runner, ImageDataset images, int batch, int runs)
    {
        var pixels = images.Pixels.AsSpan(0, batch * images.ImageSize).ToArray();
        for (var i = 0; i < 3 || batch == 1 && runner.SingleImageThreads is null; i++) runner.Run(pixels, batch); // and until single images have their session
        var times = new double[runs];
        for (var i = 0; i < runs; i++)
        {
            var started = Stopwatch.GetTimestamp();
            runner.Run(pixels, batch);
            times[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds / batch;
        }
        return times;
    }
}

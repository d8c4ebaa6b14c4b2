using System.Diagnostics;

namespace ModelBuildTasks.Runtime;

/// <summary>
/// Which session runs single images when batches are split: the one-thread session the parts run on, or one with
/// every intra-op thread. Which is faster depends on the model and on the CPU. A compressed 28x28 sample runs an
/// image in about 0.1 ms, too short for ONNX Runtime to gain from sharing each operator between threads (one thread
/// was 7-20% faster than two on the machine the benchmarks ran on), while a float model there ran 1.3x faster on
/// two, and a 224x224 model gains from every thread. So it is measured where the app runs: the first single images
/// alternate between the two sessions and, once each has run <see cref="Trials"/> timed images after
/// <see cref="WarmUps"/> untimed ones, the one with the lower median serves every single image after (one thread on a
/// tie: it leaves the other cores free). Sixteen each because eight, on a busy two-core machine, once picked the
/// session that was 1.6x slower. Every <see cref="RecheckEvery"/> single images the two are timed again, the
/// current choice serving meanwhile: a choice made while the machine was busy, or before the app's own load
/// settled, is not kept for good, at the cost of 18 images in every 4,096 on the slower session. Both sessions compute the same model, to the last bits of a float (their kernels may sum in another order). The shipped
/// <c>CompressedModel</c> and the engine's evaluation runner (which links this file) both choose this way.
/// </summary>
internal sealed class SingleImageChoice
{
    /// <summary>Timed single images per session before the choice is made.</summary>
    public const int Trials = 16;

    /// <summary>Single images per session before the timed ones (first runs allocate and start threads).</summary>
    public const int WarmUps = 2;

    /// <summary>Single images on the chosen session between two measurements.</summary>
    public const int RecheckEvery = 4096;

    readonly List<double>[] times = [[], []]; // milliseconds on one thread, on every thread
    int turn, sinceChoice;
    volatile int chosen = -1; // 0: one thread, 1: every thread
    volatile bool measuring = true;

    /// <summary>Whether single images run on every thread, once that is first decided (null before); a re-measurement keeps it until it decides again.</summary>
    public bool? EveryThread => chosen switch { < 0 => null, var c => c == 1 };

    /// <summary>The threads single images run on, out of <paramref name="everyThread"/>: 1 or all of them, or null before the first choice.</summary>
    public int? Threads(int everyThread) => EveryThread is { } every ? (every ? everyThread : 1) : null;

    /// <summary>
    /// Starts a single image: which session to run it on (<see cref="Turn.EveryThread"/>), alternating while the choice
    /// is being measured. Pass the turn to <see cref="End"/> once the image has run.
    /// </summary>
    public Turn Begin()
    {
        if (!measuring)
        {
            if (Interlocked.Increment(ref sinceChoice) % RecheckEvery != 0) return new Turn(chosen == 1, 0);
            lock (times)
            {
                foreach (var runs in times) runs.Clear();
                measuring = true;
            }
        }
        return new Turn((Interlocked.Increment(ref turn) & 1) == 1, Stopwatch.GetTimestamp());
    }

    /// <summary>Ends a single image begun with <see cref="Begin"/>: records its time while the choice is open.</summary>
    public void End(Turn run)
    {
        if (run.Started != 0) Record(run.EveryThread, Stopwatch.GetElapsedTime(run.Started).TotalMilliseconds);
    }

    /// <summary>One single image's session, and when it started if it is timed (0 if not).</summary>
    /// <param name="EveryThread">Run it on the session with every thread (else on the one-thread session).</param>
    /// <param name="Started">The <see cref="Stopwatch"/> timestamp it started at, when timed.</param>
    public readonly record struct Turn(bool EveryThread, long Started);

    /// <summary>Adds one run's time; each session's first <see cref="WarmUps"/> runs do not count.</summary>
    public void Record(bool everyThread, double milliseconds)
    {
        lock (times)
        {
            if (!measuring) return;
            times[everyThread ? 1 : 0].Add(milliseconds);
            if (times.Any(t => t.Count < WarmUps + Trials)) return;
            chosen = Median(times[1]) < Median(times[0]) ? 1 : 0;
            measuring = false;
        }
    }

    static double Median(List<double> runs)
    {
        var timed = runs.Skip(WarmUps).Order().ToArray();
        return timed[timed.Length / 2];
    }
}

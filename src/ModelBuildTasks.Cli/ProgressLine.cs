using System.Diagnostics;
using System.Globalization;
using ModelBuildTasks.Progress;

namespace ModelBuildTasks.Cli;

/// <summary>
/// What a run has done so far, folded from the engine's updates into one sentence, e.g.
/// <c>stage NS, candidate 3/9 (ns=0.2), last accuracy 93.10%, ~2 min left</c>. The terminal bar
/// and the plain lines (what MSBuild shows) both print it, so they never disagree.
/// </summary>
sealed class ProgressLine
{
    readonly Func<TimeSpan> clock;
    TimeSpan? firstCandidate;

    /// <summary>Starts with a real clock, or <paramref name="clock"/> (tests).</summary>
    public ProgressLine(Func<TimeSpan>? clock = null)
    {
        var watch = Stopwatch.StartNew();
        this.clock = clock ?? (() => watch.Elapsed);
    }

    /// <summary>The stage of the last update.</summary>
    public string Stage { get; private set; } = "";

    /// <summary>True when the last update started a new stage.</summary>
    public bool StageChanged { get; private set; }

    /// <summary>True when the last update started a new candidate.</summary>
    public bool CandidateStarted { get; private set; }

    /// <summary>Candidates started so far (the one running included).</summary>
    public long Candidate { get; private set; }

    /// <summary>Candidates planned (an estimate under the margin search), 0 before the search.</summary>
    public long Candidates { get; private set; }

    /// <summary>The last update.</summary>
    public ProgressUpdate? Last { get; private set; }

    /// <summary>How far the whole run is, 0 to 1, when it can be told.</summary>
    public double? Fraction => Last is { Total: > 0 } u ? Math.Clamp((double)u.Done / u.Total, 0, 1) : null;

    /// <summary>Folds in one update.</summary>
    public void Apply(ProgressUpdate update)
    {
        StageChanged = update.Stage != Last?.Stage;
        CandidateStarted = update.Unit == "candidates";
        if (CandidateStarted)
        {
            firstCandidate ??= clock();
            Candidate = update.Done + 1;
            Candidates = update.Total;
        }
        Stage = update.Stage;
        Last = update;
    }

    /// <summary>The estimated time left: the mean time per finished candidate times the candidates still planned.</summary>
    public TimeSpan? Left
    {
        get
        {
            if (firstCandidate is not { } start || Candidate < 2 || Candidates <= 0) return null;
            var perCandidate = (clock() - start) / (Candidate - 1);
            return perCandidate * Math.Max(0, Candidates - Candidate + 1);
        }
    }

    /// <summary>The sentence for the last update (the plain lines).</summary>
    public override string ToString() => Format(compact: false);

    /// <summary>
    /// The same facts in fewer columns, for the terminal bar's description, in at most
    /// <paramref name="width"/> characters: a line that wraps breaks the bar's redraw on a narrow
    /// terminal (its elapsed time came out split over two lines), so what matters least goes first:
    /// the candidate's knobs, then the last accuracy, then the end of the line.
    /// </summary>
    public string Compact(int width = int.MaxValue)
    {
        foreach (var (detail, accuracy) in new[] { (true, true), (false, true), (false, false) })
            if (Format(compact: true, detail, accuracy) is var text && text.Length <= width) return text;
        var shortest = Format(compact: true, detail: false, accuracy: false);
        return width <= 1 ? shortest[..Math.Max(0, width)] : shortest[..(width - 1)] + "…";
    }

    string Format(bool compact, bool detail = true, bool accuracy = true)
    {
        if (Last is not { } u) return "starting";
        var parts = new List<string> { (compact ? "" : "stage ") + StageName(u.Stage) };
        if (u.Unit == "candidates")
        {
            var of = Candidates > 0 ? $"/{(u.TotalIsEstimate ? "~" : "")}{Candidates}" : "";
            parts.Add($"{(compact ? "" : "candidate ")}{Candidate}{of}" + (detail && u.Detail is { Length: > 0 } d ? $" ({d})" : ""));
            if (accuracy && u.Accuracy is { } a) parts.Add((compact ? "last " : "last accuracy ") + (a * 100).ToString("0.00", CultureInfo.InvariantCulture) + "%");
            if (Left is { } left) parts.Add("~" + Duration(left) + " left");
        }
        else if (u.Total > 1)
        {
            parts.Add($"{u.Done}/{u.Total} {u.Unit}");
        }
        return string.Join(compact ? " | " : ", ", parts);
    }

    // Method stages read as the methods' abbreviations; everything else as the engine names it.
    static string StageName(string stage) => stage is "iq" or "ns" or "dc" ? stage.ToUpperInvariant() : stage;

    /// <summary>A rough duration: seconds under a minute, minutes under two hours, else hours.</summary>
    public static string Duration(TimeSpan t) => t.TotalSeconds switch
    {
        < 60 => $"{Math.Max(1, (int)Math.Round(t.TotalSeconds))} s",
        < 7200 => $"{(int)Math.Round(t.TotalMinutes)} min",
        _ => (t.TotalHours).ToString("0.#", CultureInfo.InvariantCulture) + " h",
    };
}

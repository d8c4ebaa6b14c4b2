using ModelBuildTasks.Progress;
using Spectre.Console;

namespace ModelBuildTasks.Cli;

/// <summary>
/// Shows engine progress on stderr (stdout is for data). On a terminal: a live bar whose text is
/// the <see cref="ProgressLine"/> (stage, candidate, last accuracy, time left) and which moves by
/// candidate. Otherwise (a log, the MSBuild task, CI): plain <c>info:</c> lines, one per stage and
/// per candidate, which the task shows as messages; <c>--verbosity detailed</c> adds
/// <c>verbose:</c> lines for every other update, quiet shows nothing.
/// </summary>
static class ConsoleProgress
{
    public static T Run<T>(string title, Func<IProgress<ProgressUpdate>, T> work)
    {
        if (CliOutput.Verbosity == Verbosity.Quiet) return work(new Progress<ProgressUpdate>(_ => { }));
        if (Console.IsErrorRedirected || Environment.GetEnvironmentVariable("CI") is not null || Environment.GetEnvironmentVariable("TERM") == "dumb")
            return work(new PlainLines(Console.Error, CliOutput.Verbosity == Verbosity.Detailed));
        var console = CliOutput.Create(Console.Error, terminal: true);
        var bar = Math.Clamp(console.Profile.Width / 8, 6, 20); // a narrow terminal keeps its room for the text
        Interruption.Drawing = true;
        try
        {
            return Bar(console, bar, title, work);
        }
        finally
        {
            Interruption.Drawing = false;
        }
    }

    static T Bar<T>(IAnsiConsole console, int bar, string title, Func<IProgress<ProgressUpdate>, T> work)
    {
        var line = new ProgressLine();
        return console.Progress().AutoClear(true).HideCompleted(true)
            .Columns(new SpinnerColumn(), new ProgressBarColumn { Width = bar }, new PercentageColumn(), new ElapsedTimeColumn(), new TaskDescriptionColumn { Alignment = Justify.Left })
            .Start(context =>
            {
                var task = context.AddTask(Markup.Escape(title), maxValue: 1);
                // Progress<T> would post to the thread pool and could draw an older update last; the bar is thread-safe.
                return work(new Callback(u =>
                {
                    line.Apply(u);
                    var room = console.Profile.Width - bar - FixedColumns - title.Length - 2;
                    task.Description = Markup.Escape($"{title}: {line.Compact(Math.Max(1, room))}");
                    if (line.Fraction is { } f && (u.Unit is "candidates" or "images")) task.Value = f;
                }));
            });
    }

    // What the bar's other columns take of a line besides the bar itself: spinner, "100%", "00:00:00", each
    // followed by a space (the bar's too), and one column to spare so the line never reaches the terminal's edge.
    const int FixedColumns = 2 + 1 + 5 + 9 + 1;

    sealed class Callback(Action<ProgressUpdate> report) : IProgress<ProgressUpdate>
    {
        public void Report(ProgressUpdate value) => report(value);
    }

    /// <summary>
    /// The lines for logs: one per stage and per candidate; image counts about every 10%. Detailed
    /// adds every other update as a <c>verbose:</c> line.
    /// </summary>
    internal sealed class PlainLines(TextWriter output, bool detailed) : IProgress<ProgressUpdate>
    {
        readonly ProgressLine line = new();
        int lastDecile = -1;

        public void Report(ProgressUpdate value)
        {
            line.Apply(value);
            if (line.StageChanged) lastDecile = -1;
            if (line.CandidateStarted || line.StageChanged && value.Unit != "images")
            {
                output.WriteLine("info: " + line);
                return;
            }
            if (value.Total > 0 && value.Unit == "images")
            {
                var decile = (int)(10 * value.Done / value.Total);
                if (decile != lastDecile)
                {
                    lastDecile = decile;
                    output.WriteLine("info: " + line);
                    return;
                }
            }
            if (detailed) output.WriteLine("verbose: " + line);
        }
    }
}

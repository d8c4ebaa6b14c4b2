using ModelBuildTasks.Progress;
using Spectre.Console;

namespace ModelBuildTasks.Cli;

/// <summary>
/// Shows engine progress on stderr (stdout is for data): a live bar when stderr is a terminal,
/// otherwise a plain line about every 10% so logs stay short.
/// </summary>
static class ConsoleProgress
{
    public static T Run<T>(string title, Func<IProgress<ProgressUpdate>, T> work)
    {
        if (Console.IsErrorRedirected || Environment.GetEnvironmentVariable("CI") is not null)
            return work(new PlainLines());
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        return console.Progress().AutoClear(true).Start(context =>
        {
            var task = context.AddTask(title);
            return work(new Progress<ProgressUpdate>(u =>
            {
                if (u.Total > 0) task.MaxValue = u.Total;
                task.Value = u.Done;
            }));
        });
    }

    // A line when a new stage starts, then about one per 10% of a stage that counts its work.
    sealed class PlainLines : IProgress<ProgressUpdate>
    {
        string? stage;
        int lastDecile = -1;

        public void Report(ProgressUpdate value)
        {
            if (value.Stage != stage)
            {
                stage = value.Stage;
                lastDecile = -1;
                if (value.Unit is not "images") { Console.Error.WriteLine(value.Stage); return; }
            }
            if (value.Total <= 0 || value.Unit is not "images") return;
            var decile = (int)(10 * value.Done / value.Total);
            if (decile == lastDecile) return;
            lastDecile = decile;
            Console.Error.WriteLine($"{value.Stage}: {value.Done}/{value.Total} {value.Unit}");
        }
    }
}

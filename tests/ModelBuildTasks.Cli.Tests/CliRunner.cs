using System.Diagnostics;
using System.Text.Json;

namespace ModelBuildTasks.Cli.Tests;

/// <summary>Runs <c>dotnet-compress-model.dll</c> (built beside the tests) as a child process.</summary>
static class CliRunner
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public JsonElement Json => JsonDocument.Parse(Stdout).RootElement;
    }

    public static Result Run(params string[] args) => RunWith(new Dictionary<string, string?>(), args);

    /// <summary>The training add-on built beside the tests.</summary>
    public static string TrainingTool => Path.Combine(AppContext.BaseDirectory, "dotnet-compress-model-train.dll");

    public static Result RunWith(IDictionary<string, string?> environment, params string[] args) => RunIn(null, environment, args);

    /// <summary>Runs the CLI with <paramref name="workingDirectory"/> as its current folder (tool manifests are found from there).</summary>
    public static Result RunIn(string? workingDirectory, IDictionary<string, string?> environment, params string[] args)
    {
        var cli = Path.Combine(AppContext.BaseDirectory, "dotnet-compress-model.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = workingDirectory ?? "" };
        foreach (var (key, value) in environment) start.Environment[key] = value;
        start.ArgumentList.Add(cli);
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(45))) { process.Kill(true); throw new TimeoutException(string.Join(" ", args)); } // only a hang guard: a busy 2-core machine is slow, never wrong
        return new Result(process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Starts the CLI without waiting, so a test can act while it runs (e.g. stop a server mid-build).</summary>
    public static Running Start(IDictionary<string, string?> environment, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var (key, value) in environment) start.Environment[key] = value;
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "dotnet-compress-model.dll"));
        foreach (var a in args) start.ArgumentList.Add(a);
        return new Running(Process.Start(start)!);
    }

    /// <summary>A CLI process still running; stderr is collected line by line as it comes.</summary>
    public sealed class Running
    {
        readonly Process process;
        readonly Task<string> stdout;
        readonly System.Text.StringBuilder stderr = new();

        public Running(Process process)
        {
            this.process = process;
            process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) stderr.AppendLine(e.Data); };
            process.BeginErrorReadLine();
            stdout = process.StandardOutput.ReadToEndAsync();
        }

        public string StderrSoFar { get { lock (stderr) return stderr.ToString(); } }

        /// <summary>The CLI's process id (to send it a signal).</summary>
        public int Id => process.Id;

        /// <summary>Waits until stderr contains <paramref name="text"/>; false if the process ended or the time ran out first.</summary>
        public bool WaitForStderr(string text, TimeSpan timeout)
        {
            var watch = Stopwatch.StartNew();
            while (watch.Elapsed < timeout)
            {
                if (StderrSoFar.Contains(text)) return true;
                if (process.HasExited) return StderrSoFar.Contains(text);
                Thread.Sleep(50);
            }
            return false;
        }

        public Result Finish()
        {
            if (!process.WaitForExit(TimeSpan.FromMinutes(3))) { process.Kill(true); throw new TimeoutException("the CLI did not finish"); }
            process.WaitForExit(); // drains the asynchronous stderr reader
            var result = new Result(process.ExitCode, stdout.Result, StderrSoFar);
            process.Dispose();
            return result;
        }
    }

    /// <summary>As <see cref="AssertCleanError"/> for a run asked for <c>--json</c>: stdout holds the error as one JSON object.</summary>
    public static void AssertCleanJsonError(Result result, int exitCode, string code)
    {
        AssertCleanError(result with { Stdout = "" }, exitCode, code);
        using var json = System.Text.Json.JsonDocument.Parse(result.Stdout);
        var error = json.RootElement.GetProperty("error");
        Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.Contains(error.GetProperty("message").GetString()!, result.Stderr);
    }

    /// <summary>Asserts a failed run: the exit code, a coded one-line error on stderr, no stack trace, nothing on stdout.</summary>
    public static void AssertCleanError(Result result, int exitCode, string code)
    {
        Assert.Equal(exitCode, result.ExitCode);
        Assert.Contains($"error {code}:", result.Stderr);
        Assert.DoesNotContain("   at ", result.Stderr);
        Assert.DoesNotContain("Exception", result.Stderr);
        Assert.Equal("", result.Stdout);
    }
}

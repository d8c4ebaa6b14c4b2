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

    public static Result RunWith(IDictionary<string, string?> environment, params string[] args)
    {
        var cli = Path.Combine(AppContext.BaseDirectory, "dotnet-compress-model.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var (key, value) in environment) start.Environment[key] = value;
        start.ArgumentList.Add(cli);
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(45))) { process.Kill(true); throw new TimeoutException(string.Join(" ", args)); } // only a hang guard: a busy 2-core machine is slow, never wrong
        return new Result(process.ExitCode, stdout.Result, stderr.Result);
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

using System.Diagnostics;
using System.Text.RegularExpressions;

namespace ModelBuildTasks.Tests;

/// <summary>
/// A real Azure Blob Storage emulator (Azurite's blob service) on a free loopback port, in memory,
/// for as long as this object lives. Installed by build/install-azurite.sh (pinned, into
/// .artifacts/azurite) on first use. Usable as an xunit class fixture.
/// </summary>
public sealed partial class AzuriteServer : IDisposable
{
    /// <summary>Azurite's documented development account (public by design).</summary>
    public const string Account = "devstoreaccount1";
    const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
    static readonly Lock InstallLock = new();

    readonly Process process;
    readonly List<string> log = [];

    public AzuriteServer()
    {
        var script = Install();
        var start = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { script, "--blobHost", "127.0.0.1", "--blobPort", "0", "--inMemoryPersistence", "--skipApiVersionCheck", "--disableTelemetry" })
            start.ArgumentList.Add(a);
        process = Process.Start(start)!;
        var port = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) { port.TrySetException(new InvalidOperationException("Azurite exited:\n" + Log)); return; }
            lock (log) log.Add(e.Data);
            if (Listening().Match(e.Data) is { Success: true } m) port.TrySetResult(int.Parse(m.Groups[1].Value));
        };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.Add(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!port.Task.Wait(TimeSpan.FromSeconds(90))) { Dispose(); throw new TimeoutException("Azurite did not start:\n" + Log); }
        Port = port.Task.Result;
    }

    /// <summary>The loopback port the blob service listens on.</summary>
    public int Port { get; }

    /// <summary>Whether the server is still running.</summary>
    public bool Running => !process.HasExited;

    /// <summary>What Azurite printed.</summary>
    public string Log { get { lock (log) return string.Join("\n", log); } }

    /// <summary>A container URL as users give it (the emulator's path style).</summary>
    public string ContainerUrl(string container) => $"http://127.0.0.1:{Port}/{Account}/{container}";

    /// <summary>The connection string of the development account on this server.</summary>
    public string ConnectionString =>
        $"DefaultEndpointsProtocol=http;AccountName={Account};AccountKey={AccountKey};BlobEndpoint=http://127.0.0.1:{Port}/{Account};";

    /// <summary>Stops the server (idempotent).</summary>
    public void Stop()
    {
        try { if (!process.HasExited) { process.Kill(entireProcessTree: true); process.WaitForExit(10_000); } }
        catch (InvalidOperationException) { }
    }

    public void Dispose()
    {
        Stop();
        process.Dispose();
    }

    /// <summary>The blob service's entry script, installing Azurite first if needed (once per test process).</summary>
    static string Install()
    {
        lock (InstallLock)
        {
            var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            start.ArgumentList.Add(Path.Combine(TestPaths.RepoRoot, "build/install-azurite.sh"));
            using var install = Process.Start(start)!;
            var stdout = install.StandardOutput.ReadToEndAsync();
            var stderr = install.StandardError.ReadToEndAsync();
            if (!install.WaitForExit(TimeSpan.FromMinutes(10))) { install.Kill(true); throw new TimeoutException("build/install-azurite.sh"); }
            if (install.ExitCode != 0) throw new InvalidOperationException("build/install-azurite.sh failed:\n" + stderr.Result);
            return stdout.Result.Trim().Split('\n')[^1];
        }
    }

    [GeneratedRegex(@"listens on http://127\.0\.0\.1:(\d+)")]
    private static partial Regex Listening();
}

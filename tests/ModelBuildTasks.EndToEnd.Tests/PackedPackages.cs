using System.Diagnostics;

namespace ModelBuildTasks.EndToEnd.Tests;

/// <summary>Packs the shippable packages once per test run, under a version no earlier run used, into a temporary feed.</summary>
public sealed class PackedPackages : IDisposable
{
    public PackedPackages()
    {
        Version = $"0.1.0-e2e.{DateTime.UtcNow:yyyyMMddHHmmss}.{Environment.ProcessId}";
        var result = Dotnet.Run(TestPaths.RepoRoot, "bash", "build/pack.sh", Feed, Version);
        if (result.ExitCode != 0) throw new InvalidOperationException("packing failed:\n" + result.Output);
    }

    public string Feed { get; } = Directory.CreateTempSubdirectory("mbt-feed-").FullName;
    public string Version { get; }
    public string Cache { get; } = Directory.CreateTempSubdirectory("mbt-cache-").FullName;

    public void Dispose()
    {
        Directory.Delete(Feed, true);
        Directory.Delete(Cache, true);
    }
}

[CollectionDefinition(nameof(PackedPackages))]
public sealed class PackedPackagesCollection : ICollectionFixture<PackedPackages>;

/// <summary>Runs dotnet (or another command) with no build servers left behind, capturing all output.</summary>
static class Dotnet
{
    public sealed record Result(int ExitCode, string Output);

    public static Result Run(string folder, string command, params string[] args) => Run(folder, new Dictionary<string, string?>(), command, args);

    /// <summary>Runs with these environment variables set (or removed, when null) on top of the usual ones.</summary>
    public static Result Run(string folder, IReadOnlyDictionary<string, string?> environment, string command, params string[] args)
    {
        var start = new ProcessStartInfo(command) { WorkingDirectory = folder, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) start.ArgumentList.Add(a);
        foreach (var (name, value) in environment) start.Environment[name] = value;
        start.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        start.Environment["DOTNET_CLI_DO_NOT_USE_MSBUILD_SERVER"] = "1";
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(8))) { process.Kill(true); throw new TimeoutException($"{command} {string.Join(" ", args)}"); }
        return new Result(process.ExitCode, output.Result + error.Result);
    }

    public static Result Build(string folder, params string[] extra) =>
        Run(folder, "dotnet", ["build", "-nodeReuse:false", "--disable-build-servers", "-v:n", .. extra]);
}

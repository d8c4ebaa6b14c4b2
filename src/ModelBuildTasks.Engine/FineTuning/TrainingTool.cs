using System.Diagnostics;
using System.Text.Json;

namespace ModelBuildTasks.FineTuning;

/// <summary>
/// Finds the fine-tuning add-on, <c>dotnet-compress-model-train</c>. Training brings libtorch
/// (790 MB installed on linux-x64), so it is a separate tool that the engine runs as a process only when fine-tuning is
/// asked for. In order: <c>MBT_TRAINING_TOOL</c> (a .dll or an executable); a local tool manifest
/// (<c>.config/dotnet-tools.json</c> or <c>dotnet-tools.json</c> in the working folder or above, as
/// <c>dotnet tool run</c> finds it) that lists the add-on; else the global tool on PATH.
/// </summary>
public static class TrainingTool
{
    /// <summary>The add-on's command name (and package id).</summary>
    public const string ToolName = "dotnet-compress-model-train";

    /// <summary>How to install the add-on.</summary>
    public const string InstallHint = $"dotnet tool install {ToolName} (local, with a tool manifest) or dotnet tool install --global {ToolName}, with --add-source FEED where your feed serves it";

    /// <summary>
    /// Set for the add-on's process: a CLI that is asked to forward <c>train</c> while it is set was started as the add-on
    /// (<c>MBT_TRAINING_TOOL</c> naming <c>dotnet-compress-model.dll</c>, not <c>-train.dll</c>), and would start itself again without end.
    /// </summary>
    public const string StartedAsAddOnVariable = "MBT_STARTED_AS_TRAINING_TOOL";

    /// <summary>How to start the add-on (arguments still to add), or null when it is not installed.</summary>
    /// <param name="workingDirectory">Where the manifest search starts (default: the current folder).</param>
    public static ProcessStartInfo? Locate(string? workingDirectory = null)
    {
        var start = Start(workingDirectory);
        if (start is not null) start.Environment[StartedAsAddOnVariable] = "1";
        return start;
    }

    static ProcessStartInfo? Start(string? workingDirectory)
    {
        switch (Find(workingDirectory))
        {
            case { Via: TrainingToolSource.Configured, Path: var dll } when dll.EndsWith(".dll", StringComparison.OrdinalIgnoreCase):
                var dotnet = new ProcessStartInfo(Dotnet) { UseShellExecute = false };
                dotnet.ArgumentList.Add(dll);
                return dotnet;
            case { Via: TrainingToolSource.Manifest }:
                // dotnet tool run resolves the restored package from the manifest next to it, so it runs from that folder's tree.
                var run = new ProcessStartInfo(Dotnet) { UseShellExecute = false, WorkingDirectory = workingDirectory ?? "" };
                run.ArgumentList.Add("tool");
                run.ArgumentList.Add("run");
                run.ArgumentList.Add(ToolName);
                run.ArgumentList.Add("--"); // else dotnet tool run takes the add-on's --help as its own
                return run;
            case { Path: var executable }:
                return new ProcessStartInfo(executable) { UseShellExecute = false };
            case null:
                return null;
        }
    }

    /// <summary>
    /// Where the add-on is, by the search order above (the one place it is written down): the file
    /// <c>MBT_TRAINING_TOOL</c> names, the tool manifest that lists it, or the global command; null when
    /// it is not installed. <see cref="Locate"/> starts it from here and <see cref="TrainingToolIdentity"/> identifies it.
    /// </summary>
    internal static TrainingToolLocation? Find(string? workingDirectory = null)
    {
        var configured = Environment.GetEnvironmentVariable("MBT_TRAINING_TOOL");
        if (!string.IsNullOrEmpty(configured))
        {
            if (Directory.Exists(configured)) throw new ModelBuildException(ErrorCodes.InvalidSetting, "MBT_TRAINING_TOOL names a folder; give the add-on's .dll or executable", configured);
            if (!File.Exists(configured)) throw new ModelBuildException(ErrorCodes.InvalidSetting, "MBT_TRAINING_TOOL points to a file that does not exist", configured);
            // Anything but a .dll is started itself: it must be executable, or the start fails with a bare "Permission denied".
            if (!configured.EndsWith(".dll", StringComparison.OrdinalIgnoreCase) && !OperatingSystem.IsWindows()
                && (File.GetUnixFileMode(configured) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) == 0)
                throw new ModelBuildException(ErrorCodes.InvalidSetting, "MBT_TRAINING_TOOL names a file that is neither a .dll nor executable; give the add-on's .dll or executable", configured);
            return new TrainingToolLocation(Path.GetFullPath(configured), TrainingToolSource.Configured);
        }
        if (FindManifest(workingDirectory ?? Directory.GetCurrentDirectory()) is { } manifest) return new TrainingToolLocation(manifest, TrainingToolSource.Manifest);
        foreach (var folder in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(folder, OperatingSystem.IsWindows() ? ToolName + ".exe" : ToolName);
            if (File.Exists(candidate)) return new TrainingToolLocation(Path.GetFullPath(candidate), TrainingToolSource.Global);
        }
        return null;
    }

    /// <summary>
    /// The nearest tool manifest at or above <paramref name="folder"/> that lists the add-on, as
    /// <c>dotnet tool run</c> searches (<c>.config/dotnet-tools.json</c> before <c>dotnet-tools.json</c>
    /// in each folder); null when none does. A manifest that cannot be read or parsed is skipped.
    /// </summary>
    public static string? FindManifest(string folder)
    {
        for (var dir = new DirectoryInfo(Path.GetFullPath(folder)); dir is not null; dir = dir.Parent)
        {
            foreach (var path in new[] { Path.Combine(dir.FullName, ".config", "dotnet-tools.json"), Path.Combine(dir.FullName, "dotnet-tools.json") })
                if (File.Exists(path) && ManifestEntry(path).Listed) return path;
        }
        return null;
    }

    /// <summary>
    /// Whether the tool manifest at <paramref name="path"/> lists the add-on, and the version it names (null when
    /// it names none). A manifest that cannot be read or parsed lists nothing: dotnet tool reports it itself.
    /// </summary>
    internal static (bool Listed, string? Version) ManifestEntry(string path)
    {
        try
        {
            using var json = JsonDocument.Parse(File.ReadAllText(path), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            if (json.RootElement.TryGetProperty("tools", out var tools) && tools.ValueKind == JsonValueKind.Object)
                foreach (var tool in tools.EnumerateObject())
                    if (string.Equals(tool.Name, ToolName, StringComparison.OrdinalIgnoreCase))
                        return (true, tool.Value.ValueKind == JsonValueKind.Object && tool.Value.TryGetProperty("version", out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null);
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException)
        {
            // Not ours to judge: the search goes on past it.
        }
        return (false, null);
    }

    // The host that runs this process when it is dotnet (it usually is), so PATH need not hold it.
    static string Dotnet =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host
        : Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self) == "dotnet" ? self
        : "dotnet";

    /// <summary>Like <see cref="Locate"/>, but a missing add-on is an error that says how to install it.</summary>
    public static ProcessStartInfo Require() => Locate() ?? throw new ModelBuildException(ErrorCodes.InvalidSetting,
        $"fine-tuning needs the training add-on, which brings libtorch (790 MB installed on linux-x64): {InstallHint} (or set MBT_TRAINING_TOOL to its .dll)");
}

/// <summary>How the add-on was found.</summary>
enum TrainingToolSource
{
    /// <summary><c>MBT_TRAINING_TOOL</c>: a .dll or an executable.</summary>
    Configured,
    /// <summary>A local tool manifest that lists it (run through <c>dotnet tool run</c>).</summary>
    Manifest,
    /// <summary>The global tool's command on PATH.</summary>
    Global,
}

/// <summary>Where the add-on was found.</summary>
/// <param name="Path">The .dll or executable (<see cref="TrainingToolSource.Configured"/>), the manifest, or the global command.</param>
/// <param name="Via">Which of the three it is.</param>
sealed record TrainingToolLocation(string Path, TrainingToolSource Via);

using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;

namespace ModelBuildTasks.FineTuning;

/// <summary>
/// What identifies the training add-on's results, for the cache key of a compression that fine-tunes:
/// a fine-tuned model depends on the add-on's code as much as on the engine's, so a new add-on (or a
/// rebuilt one) must not be served a model another add-on trained. The identity is the main assembly's
/// informational version and a SHA-256 of the managed code that runs: the main assembly and every
/// other assembly beside it (ModelBuildTasks.Training, TorchSharp's managed side, ...), with the
/// <c>.deps.json</c> and <c>.runtimeconfig.json</c> that pin the packages and their native libraries
/// (libtorch itself is hundreds of MB under <c>runtimes/</c>, named by those package versions, and is
/// not read). Files are named by their file name only, never their folder, so the same add-on
/// installed elsewhere (another machine, CI) gives the same identity and still shares the cache.
/// </summary>
public static class TrainingToolIdentity
{
    /// <summary>The identity of the add-on the engine would run (found as <see cref="TrainingTool.Locate"/> finds it); "none" when it is not installed.</summary>
    /// <param name="workingDirectory">Where the manifest search starts (default: the current folder).</param>
    public static string Find(string? workingDirectory = null) => TrainingTool.Find(workingDirectory) switch
    {
        null => "none", // fine-tuning then fails with the install hint; no entry is ever stored under this
        { Via: TrainingToolSource.Manifest, Path: var manifest } => OfManifest(manifest),
        { Path: var command } => Of(MainAssemblies(command)),
    };

    /// <summary>The identity of the add-on whose main assembly (or executable) is <paramref name="mainAssembly"/>.</summary>
    public static string Of(string mainAssembly) => Of([mainAssembly]);

    static string Of(IReadOnlyList<string> mainAssemblies)
    {
        var text = new StringBuilder();
        foreach (var main in mainAssemblies)
        {
            text.Append("version ").Append(FileVersionInfo.GetVersionInfo(main).ProductVersion ?? "unknown").Append('\n');
            var folder = Path.GetDirectoryName(main)!;
            var files = Directory.EnumerateFiles(folder)
                .Where(f => f == main || f.EndsWith(".dll", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".deps.json", StringComparison.OrdinalIgnoreCase)
                            || f.EndsWith(".runtimeconfig.json", StringComparison.OrdinalIgnoreCase))
                .Order(StringComparer.Ordinal);
            foreach (var file in files)
                text.Append(Path.GetFileName(file)).Append(' ').Append(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(file)))).Append('\n');
        }
        return text.ToString();
    }

    // The managed entry point behind a command: an apphost's .dll beside it; a global tool's shim has
    // its package under .store/ beside it (every version stored there counts: a key that changes
    // too often only costs a compression, one that changes too rarely serves another add-on's
    // model); otherwise the command itself (a script, a single-file app) is what runs.
    static IReadOnlyList<string> MainAssemblies(string command)
    {
        if (command.EndsWith(".dll", StringComparison.OrdinalIgnoreCase)) return [command];
        var beside = Path.ChangeExtension(command, ".dll");
        if (File.Exists(beside)) return [beside];
        var store = Path.Combine(Path.GetDirectoryName(command)!, ".store", TrainingTool.ToolName);
        if (Directory.Exists(store) && Directory.EnumerateFiles(store, TrainingTool.ToolName + ".dll", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToList() is { Count: > 0 } stored)
            return stored;
        return [command];
    }

    // A local tool: the manifest names its version, and dotnet tool run runs the package restored in the
    // NuGet folder (the pointer package and its RID-specific one, "<id>.<rid>"). A package not restored yet
    // is identified by the manifest's version alone.
    static string OfManifest(string manifest)
    {
        var version = TrainingTool.ManifestEntry(manifest).Version; // null when unreadable: dotnet tool run reports that itself
        var packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } configured ? configured
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var restored = version is null || !Directory.Exists(packages) ? [] : Directory.EnumerateDirectories(packages, TrainingTool.ToolName + "*")
            .Where(package => Path.GetFileName(package) is var name && (name == TrainingTool.ToolName || name.StartsWith(TrainingTool.ToolName + ".", StringComparison.Ordinal)))
            .Select(package => Path.Combine(package, version.ToLowerInvariant()))
            .Where(Directory.Exists)
            .SelectMany(folder => Directory.EnumerateFiles(folder, TrainingTool.ToolName + ".dll", SearchOption.AllDirectories))
            .Order(StringComparer.Ordinal).ToList();
        return $"manifest version {version ?? "unreadable"}\n" + (restored.Count > 0 ? Of(restored) : "");
    }
}

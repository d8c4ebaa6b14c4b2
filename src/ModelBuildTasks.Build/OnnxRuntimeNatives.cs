using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace ModelBuildTasks.Build;

/// <summary>
/// Where the engine finds ONNX Runtime's native library. The package leaves the natives out of the engine (the app
/// restores them anyway) and the host probes the NuGet packages folder for the version the engine was built with. An
/// app that pins a newer ONNX Runtime restores only that one, so on a clean machine the engine's version is absent and
/// the host stopped before the engine started. ONNX Runtime's C API keeps every older version, so the engine runs on
/// the newer native library: this machine's natives of the newest version restored are copied where the host looks
/// for the engine's own version, in a probing folder of the build's own.
/// </summary>
static partial class OnnxRuntimeNatives
{
    [GeneratedRegex("\"path\": \"microsoft\\.ml\\.onnxruntime/(?<version>[^\"]+)\"")]
    private static partial Regex PackagePath();

    /// <summary>
    /// A probing folder holding the natives of a newer ONNX Runtime under the engine's own version, made in
    /// <paramref name="probeFolder"/>; null when the engine's version is in <paramref name="packageRoot"/>, or no newer one is.
    /// </summary>
    /// <param name="depsText">The engine's <c>.deps.json</c>, which names its ONNX Runtime version.</param>
    /// <param name="packageRoot">The NuGet packages folder the host probes.</param>
    /// <param name="probeFolder">Where to make the probing folder (under obj/).</param>
    public static string? Probe(string depsText, string packageRoot, string probeFolder)
    {
        if (packageRoot.Length == 0 || PackagePath().Match(depsText) is not { Success: true } match) return null;
        var packages = Path.Combine(packageRoot, "microsoft.ml.onnxruntime");
        var own = match.Groups["version"].Value;
        if (Directory.Exists(Path.Combine(packages, own)) || !Version.TryParse(own.Split('-')[0], out var ownVersion) || !Directory.Exists(packages)) return null;
        var natives = Path.Combine("runtimes", RuntimeInformation.RuntimeIdentifier, "native");
        var newer = Directory.GetDirectories(packages)
            .Select(d => (Folder: d, Version: Version.TryParse(Path.GetFileName(d).Split('-')[0], out var v) ? v : null))
            .Where(v => v.Version is not null && v.Version > ownVersion && Directory.Exists(Path.Combine(v.Folder, natives)))
            .MaxBy(v => v.Version);
        if (newer.Folder is null) return null;
        var target = Path.Combine(probeFolder, "microsoft.ml.onnxruntime", own, natives);
        Directory.CreateDirectory(target);
        foreach (var file in Directory.GetFiles(Path.Combine(newer.Folder, natives)))
        {
            var copy = Path.Combine(target, Path.GetFileName(file));
            if (File.Exists(copy) && new FileInfo(copy).Length == new FileInfo(file).Length) continue;
            var temp = copy + "." + Guid.NewGuid().ToString("N") + ".tmp";
            File.Copy(file, temp);
            File.Move(temp, copy, overwrite: true);
        }
        return probeFolder;
    }
}

using System.Diagnostics;

namespace ModelBuildTasks.FineTuning;

/// <summary>
/// Finds the fine-tuning add-on, <c>dotnet-compress-model-train</c>. Training brings libtorch
/// (over 1 GB), so it is a separate tool that the engine runs as a process only when fine-tuning is
/// asked for: <c>MBT_TRAINING_TOOL</c> (a .dll or an executable), else the tool on PATH.
/// </summary>
public static class TrainingTool
{
    /// <summary>The add-on's command name.</summary>
    public const string ToolName = "dotnet-compress-model-train";

    /// <summary>How to start the add-on (arguments still to add), or null when it is not installed.</summary>
    public static ProcessStartInfo? Locate()
    {
        var configured = Environment.GetEnvironmentVariable("MBT_TRAINING_TOOL");
        if (!string.IsNullOrEmpty(configured))
        {
            if (!File.Exists(configured)) throw new ModelBuildException(ErrorCodes.InvalidSetting, "MBT_TRAINING_TOOL points to a file that does not exist", configured);
            if (!configured.EndsWith(".dll", StringComparison.OrdinalIgnoreCase)) return new ProcessStartInfo(configured) { UseShellExecute = false };
            var dotnet = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet") { UseShellExecute = false };
            dotnet.ArgumentList.Add(configured);
            return dotnet;
        }
        foreach (var folder in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(folder, OperatingSystem.IsWindows() ? ToolName + ".exe" : ToolName);
            if (File.Exists(candidate)) return new ProcessStartInfo(candidate) { UseShellExecute = false };
        }
        return null;
    }

    /// <summary>Like <see cref="Locate"/>, but a missing add-on is an error that says how to install it.</summary>
    public static ProcessStartInfo Require() => Locate() ?? throw new ModelBuildException(ErrorCodes.InvalidSetting,
        $"fine-tuning needs the training add-on, which brings libtorch (~1 GB): dotnet tool install --global {ToolName} (or set MBT_TRAINING_TOOL to its .dll)");
}

using System.CommandLine;
using System.Diagnostics;

namespace ModelBuildTasks.Cli.Commands;

/// <summary>
/// <c>train</c>: fine-tuning lives in a separate tool, <c>dotnet-compress-model-train</c>, because it
/// brings libtorch (over 1 GB). This tool stays small; <c>train</c> runs the add-on in its own process
/// with the same arguments, streaming its output and returning its exit code.
/// </summary>
static class TrainCommand
{
    const string ToolName = "dotnet-compress-model-train";

    /// <summary>A placeholder so that <c>--help</c> lists the command; <see cref="Forward"/> does the work.</summary>
    public static Command Create()
    {
        var command = new Command("train", $"Fine-tune a model on labelled data (runs the {ToolName} add-on; see its --help).")
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        command.SetAction(result => Forward(result.Tokens.Select(t => t.Value).ToArray()));
        return command;
    }

    public static int Forward(string[] arguments) => CompressModelCli.Guard(() =>
    {
        var start = Locate() ?? throw new ModelBuildException(ErrorCodes.InvalidSetting,
            $"fine-tuning needs the training add-on, which brings libtorch (~1 GB): dotnet tool install --global {ToolName} " +
            "(or set MBT_TRAINING_TOOL to its .dll)");
        start.ArgumentList.Add("train");
        foreach (var a in arguments) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        process.WaitForExit();
        return process.ExitCode;
    });

    static ProcessStartInfo? Locate()
    {
        var configured = Environment.GetEnvironmentVariable("MBT_TRAINING_TOOL");
        if (!string.IsNullOrEmpty(configured))
        {
            if (!File.Exists(configured)) throw new ModelBuildException(ErrorCodes.InvalidSetting, "MBT_TRAINING_TOOL points to a file that does not exist", configured);
            if (!configured.EndsWith(".dll", StringComparison.OrdinalIgnoreCase)) return new ProcessStartInfo(configured) { UseShellExecute = false };
            var dotnet = new ProcessStartInfo("dotnet") { UseShellExecute = false };
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
}

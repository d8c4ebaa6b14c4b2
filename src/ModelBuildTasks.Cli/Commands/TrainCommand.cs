using System.CommandLine;
using System.Diagnostics;
using ModelBuildTasks.FineTuning;

namespace ModelBuildTasks.Cli.Commands;

/// <summary>
/// <c>train</c>: fine-tuning lives in a separate tool, <c>dotnet-compress-model-train</c>, because it
/// brings libtorch (over 1 GB). This tool stays small; <c>train</c> runs the add-on in its own process
/// with the same arguments, streaming its output and returning its exit code.
/// </summary>
static class TrainCommand
{
    /// <summary>A placeholder so that <c>--help</c> lists the command; <see cref="Forward"/> does the work.</summary>
    public static Command Create()
    {
        var command = new Command("train", $"Fine-tune a model on labelled data (runs the {TrainingTool.ToolName} add-on; see its --help).")
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        command.SetAction(result => Forward(result.Tokens.Select(t => t.Value).ToArray()));
        return command;
    }

    public static int Forward(string[] arguments) => ExitCodes.Guard(() =>
    {
        var start = TrainingTool.Require();
        start.ArgumentList.Add("train");
        foreach (var a in arguments) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        process.WaitForExit();
        return process.ExitCode;
    });
}

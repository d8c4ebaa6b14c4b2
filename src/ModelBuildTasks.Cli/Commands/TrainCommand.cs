using System.CommandLine;
using System.Diagnostics;
using ModelBuildTasks.FineTuning;

namespace ModelBuildTasks.Cli.Commands;

/// <summary>
/// <c>train</c>: fine-tuning lives in a separate tool, <c>dotnet-compress-model-train</c>, because it
/// brings libtorch (over 1 GB). This tool stays small; <c>train</c> runs the add-on in its own process
/// with the same arguments (help included, so <c>train --help</c> lists the add-on's options),
/// streaming its output and returning its exit code.
/// </summary>
static class TrainCommand
{
    /// <summary>A placeholder so that the root's <c>--help</c> lists the command; <see cref="Forward"/> does the work.</summary>
    public static Command Create()
    {
        var command = new Command("train", $"Fine-tune a model on labelled data (runs the {TrainingTool.ToolName} add-on; see train --help).")
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        command.SetAction(result => Forward(result.Tokens.Select(t => t.Value).ToArray()));
        return command;
    }

    /// <summary>Runs the add-on's <c>train</c> with <paramref name="arguments"/> (what followed <c>train</c>; a leading <c>--</c> is dropped).</summary>
    /// <param name="arguments">The add-on's arguments.</param>
    /// <param name="noColor">Whether <c>--no-color</c> was given before <c>train</c>: the add-on gets <c>NO_COLOR</c>.</param>
    public static int Forward(string[] arguments, bool noColor = false) => ExitCodes.Guard(() =>
    {
        if (arguments is ["--", .. var rest]) arguments = rest;
        if (Environment.GetEnvironmentVariable(TrainingTool.StartedAsAddOnVariable) == "1")
            throw new ModelBuildException(ErrorCodes.InvalidSetting,
                $"the training add-on that was started is dotnet-compress-model itself: MBT_TRAINING_TOOL must name {TrainingTool.ToolName}.dll (or its executable), not dotnet-compress-model.dll",
                Environment.GetEnvironmentVariable("MBT_TRAINING_TOOL"));
        var start = TrainingTool.Locate();
        if (start is null && arguments.Any(a => a is "-h" or "--help" or "-?"))
        {
            // Help must work before the add-on is installed: say what it is and how to get it.
            Console.WriteLine($"Usage: dotnet compress-model train MODEL --train-data DATASET -o OUT.onnx [options]");
            Console.WriteLine();
            Console.WriteLine($"Fine-tuning runs the {TrainingTool.ToolName} add-on, which is not installed; its options are listed once it is:");
            Console.WriteLine($"  {TrainingTool.InstallHint}");
            return ExitCodes.Ok;
        }
        start ??= TrainingTool.Require();
        start.ArgumentList.Add("train");
        foreach (var a in arguments) start.ArgumentList.Add(a);
        start.Environment[CliHelp.UsageNameVariable] = "dotnet compress-model";
        if (noColor) start.Environment["NO_COLOR"] = "1";
        using var process = Process.Start(start)!;
        process.WaitForExit();
        return process.ExitCode;
    });
}

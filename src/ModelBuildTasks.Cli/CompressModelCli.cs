using System.CommandLine;
using ModelBuildTasks.Cli.Commands;

namespace ModelBuildTasks.Cli;

/// <summary>The <c>dotnet compress-model</c> command line: commands, and how errors become exit codes.</summary>
public static class CompressModelCli
{
    /// <summary>Parses <paramref name="args"/>, runs the command and returns the process exit code.</summary>
    public static int Run(string[] args)
    {
        // train's arguments, help included, belong to the add-on, which validates and documents them itself.
        if (args.Length > 0 && args[0] == "train")
            return TrainCommand.Forward(args[1..]);
        var root = new RootCommand("Compress, inspect and evaluate ONNX image classifiers (ModelBuildTasks).")
        {
            CompressCommand.Create(),
            InspectCommand.Create(),
            EvaluateCommand.Create(),
            ExportCommand.Create(),
            SubsetCommand.Create(),
            TrainCommand.Create(),
            CacheCommand.Create(),
            CliOutput.VerbosityOption,
            CliOutput.NoColorOption,
        };
        CliHelp.Configure(root, "dotnet compress-model");
        CliValues.Configure(root);
        OrtLogging.Quiet();
        var parsed = root.Parse(args);
        ExitCodes.JsonErrors = parsed.CommandResult.Command.Options.FirstOrDefault(o => o.Name == "--json") is Option<bool> json
            && (parsed.Errors.Count == 0 ? parsed.GetValue(json) : args.Contains("--json"));
        if (parsed.Errors.Count > 0 && !CliHelp.IsHelp(parsed))
        {
            ExitCodes.WriteError(ErrorCodes.InvalidSetting, string.Join("; ", parsed.Errors.Select(e => e.Message)));
            Console.Error.WriteLine("Run 'dotnet compress-model --help' for usage.");
            return ExitCodes.UsageError;
        }
        var configured = ExitCodes.Guard(() => { CliOutput.Configure(parsed); return ExitCodes.Ok; });
        if (configured != ExitCodes.Ok) return ExitCodes.UsageError;
        using var interruption = Interruption.Handle();
        return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null });
    }
}

using System.CommandLine;
using ModelBuildTasks.Cli.Commands;

namespace ModelBuildTasks.Cli;

/// <summary>The <c>dotnet compress-model</c> command line: commands, and how errors become exit codes.</summary>
public static class CompressModelCli
{
    /// <summary>Parses <paramref name="args"/>, runs the command and returns the process exit code.</summary>
    public static int Run(string[] args)
    {
        // train's arguments, help included, belong to the add-on, which validates and documents them itself; the global
        // options before it are this tool's, not the add-on's (its output is its own: --no-color reaches it as NO_COLOR).
        if (TrainCommandAt(args) is { } train)
            return TrainCommand.Forward(args[(train + 1)..], noColor: args[..train].Contains("--no-color"));
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

    // Where "train" is the command: first, or after global options only (-v LEVEL, --verbosity=LEVEL or :LEVEL, --no-color).
    static int? TrainCommandAt(string[] args)
    {
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == "train") return i;
            if (args[i] is "-v" or "--verbosity") i++;
            else if (args[i] is not "--no-color" && !new[] { "--verbosity=", "--verbosity:", "-v=", "-v:" }.Any(form => args[i].StartsWith(form, StringComparison.Ordinal))) return null;
        }
        return null;
    }
}

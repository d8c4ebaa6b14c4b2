using System.CommandLine;
using ModelBuildTasks.Cli.Commands;

namespace ModelBuildTasks.Cli;

/// <summary>The <c>dotnet compress-model</c> command line: commands, and how errors become exit codes.</summary>
public static class CompressModelCli
{
    /// <summary>Parses <paramref name="args"/>, runs the command and returns the process exit code.</summary>
    public static int Run(string[] args)
    {
        var root = new RootCommand("Compress, inspect and evaluate ONNX image classifiers (ModelBuildTasks).")
        {
            CompressCommand.Create(),
            InspectCommand.Create(),
            EvaluateCommand.Create(),
            SubsetCommand.Create(),
            TrainCommand.Create(),
            CacheCommand.Create(),
        };
        // train's arguments belong to the add-on, which validates them itself.
        if (args.Length > 0 && args[0] == "train" && !args.Skip(1).Any(a => a is "-h" or "--help" or "-?"))
            return TrainCommand.Forward(args[1..]);
        OrtLogging.Quiet();
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var error in parsed.Errors) Console.Error.WriteLine($"error {ErrorCodes.InvalidSetting}: {error.Message}");
            Console.Error.WriteLine("Run 'dotnet compress-model --help' for usage.");
            return ExitCodes.UsageError;
        }
        return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
    }

}

using System.CommandLine;
using ModelBuildTasks.Cli.Commands;

namespace ModelBuildTasks.Cli;

/// <summary>The <c>dotnet compress-model</c> command line: commands, and how errors become exit codes.</summary>
public static class CompressModelCli
{
    /// <summary>Exit code for success.</summary>
    public const int Ok = 0;
    /// <summary>Exit code for bad input (model, data, settings): the message says what to fix.</summary>
    public const int InputError = 1;
    /// <summary>Exit code for a malformed command line.</summary>
    public const int UsageError = 2;
    /// <summary>Exit code for an unexpected internal failure (a bug).</summary>
    public const int InternalError = 3;
    /// <summary>Exit code when the compressed model misses the accuracy target (the best model found is still written).</summary>
    public const int TargetMissed = 4;

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
        };
        // train's arguments belong to the add-on, which validates them itself.
        if (args.Length > 0 && args[0] == "train" && !args.Skip(1).Any(a => a is "-h" or "--help" or "-?"))
            return TrainCommand.Forward(args[1..]);
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var error in parsed.Errors) Console.Error.WriteLine($"error {ErrorCodes.InvalidSetting}: {error.Message}");
            Console.Error.WriteLine("Run 'dotnet compress-model --help' for usage.");
            return UsageError;
        }
        return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
    }

    /// <summary>Runs a command body, turning errors into one line on stderr and an exit code, never a stack trace.</summary>
    public static int Guard(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (ModelBuildException e)
        {
            Console.Error.WriteLine(e.ToDiagnostic());
            return InputError;
        }
        catch (OutOfMemoryException)
        {
            Console.Error.WriteLine($"error {ErrorCodes.Internal}: out of memory");
            return InternalError;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"error {ErrorCodes.Internal}: internal error ({e.GetType().Name}): {e.Message}");
            if (Environment.GetEnvironmentVariable("MBT_DEBUG") == "1") Console.Error.WriteLine(e);
            else Console.Error.WriteLine("Set MBT_DEBUG=1 for details, and please report this.");
            return InternalError;
        }
    }
}

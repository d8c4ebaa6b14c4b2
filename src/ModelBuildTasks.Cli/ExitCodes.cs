namespace ModelBuildTasks.Cli;

/// <summary>
/// The exit codes of <c>dotnet compress-model</c> and of its training add-on, and the one place
/// where errors become them (shared by both tools as source).
/// </summary>
public static class ExitCodes
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
            // A setting out of range is as much a bad command line as one that does not parse.
            return e.Code == ErrorCodes.InvalidSetting ? UsageError : InputError;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The file system refused (permissions, a full disk, a file in the way): the system's message names the path.
            Console.Error.WriteLine($"error {ErrorCodes.FileSystemRefused}: {e.Message}");
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

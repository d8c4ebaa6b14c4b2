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

    /// <summary>
    /// Whether the command was asked for <c>--json</c>: an error then also goes to stdout as one object,
    /// <c>{"error": {"code", "message", "file"}}</c>, so a script reading stdout gets JSON either way.
    /// </summary>
    public static bool JsonErrors { get; set; }

    /// <summary>Writes an error: one line on stderr and, under <see cref="JsonErrors"/>, the object on stdout.</summary>
    public static void WriteError(string code, string message, string? file = null)
    {
        Console.Error.WriteLine(file is null ? $"error {code}: {message}" : $"{file}: error {code}: {message}");
        if (JsonErrors)
            Console.Out.WriteLine(System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, Dictionary<string, string?>>
            {
                ["error"] = new() { ["code"] = code, ["message"] = message, ["file"] = file },
            }));
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
            WriteError(e.Code, e.Message, e.File);
            // A setting out of range is as much a bad command line as one that does not parse.
            return e.Code == ErrorCodes.InvalidSetting ? UsageError : InputError;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The file system refused (permissions, a full disk, a file in the way): the system's message names the path.
            WriteError(ErrorCodes.FileSystemRefused, e.Message);
            return InputError;
        }
        catch (OutOfMemoryException)
        {
            WriteError(ErrorCodes.Internal, "out of memory");
            return InternalError;
        }
        catch (Exception e)
        {
            WriteError(ErrorCodes.Internal, $"internal error ({e.GetType().Name}): {e.Message}");
            if (Environment.GetEnvironmentVariable("MBT_DEBUG") == "1") Console.Error.WriteLine(e);
            else Console.Error.WriteLine("Set MBT_DEBUG=1 for details, and please report this.");
            return InternalError;
        }
    }
}

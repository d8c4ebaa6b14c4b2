namespace ModelBuildTasks;

/// <summary>
/// An error caused by the user's input (a model, a dataset, a setting), reported without a stack
/// trace. Every such error carries a stable code (<c>MBTnnnn</c>, see <see cref="ErrorCodes"/>) and,
/// where there is one, the file it is about, so that the CLI and MSBuild can print
/// <c>file: error MBTnnnn: message</c>.
/// </summary>
public class ModelBuildException : Exception
{
    /// <summary>Creates an error with a code, a message and optionally the file it concerns.</summary>
    public ModelBuildException(string code, string message, string? file = null, Exception? inner = null)
        : base(message, inner)
    {
        Code = code;
        File = file;
    }

    /// <summary>The error for a model path that is not a file: missing, or a folder.</summary>
    public static ModelBuildException ModelNotFound(string path) =>
        new(ErrorCodes.ModelNotFound, Directory.Exists(path) ? "a folder, not a model file" : "model file not found", path);

    /// <summary>The stable error code, for example <c>MBT1002</c>.</summary>
    public string Code { get; }

    /// <summary>The file the error is about, when there is one.</summary>
    public string? File { get; }

    /// <summary>The one-line form used by the CLI and the MSBuild task: <c>file: error CODE: message</c>.</summary>
    public string ToDiagnostic() =>
        File is null ? $"error {Code}: {Message}" : $"{File}: error {Code}: {Message}";
}

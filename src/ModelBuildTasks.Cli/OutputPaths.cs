namespace ModelBuildTasks.Cli;

/// <summary>
/// Output paths, checked before any work: a compression of many minutes must not end in "access
/// denied", nor be reported as an internal error.
/// </summary>
static class OutputPaths
{
    /// <summary>
    /// Throws a coded error if <paramref name="path"/> is one of the files the command reads: the
    /// output replaces its target atomically, so <c>compress m.onnx -o m.onnx</c> would silently
    /// swap the user's only copy of the model for the container (or a dataset for its subset).
    /// </summary>
    static void CheckNotInput(string path, string option, IEnumerable<string> inputs)
    {
        var target = InputFile.RealPath(path);
        // Linux file names are case-sensitive; Windows' and macOS's usually are not (and a false alarm there
        // costs a rename, a miss the user's model).
        var comparison = OperatingSystem.IsLinux() ? StringComparison.Ordinal : StringComparison.OrdinalIgnoreCase;
        foreach (var input in inputs)
            // Resolving every component of a path costs a look-up per folder: only for the inputs that could match.
            if (string.Equals(Path.GetFileName(input), Path.GetFileName(target), comparison) || IsLink(input))
                if (File.Exists(input) && string.Equals(InputFile.RealPath(input), target, comparison))
                    throw new ModelBuildException(ErrorCodes.InvalidSetting, $"{option} is the input {input}: writing it would replace that file; choose another output path", Path.GetFullPath(path));
    }

    static bool IsLink(string path)
    {
        try
        {
            return new FileInfo(path).LinkTarget is not null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>
    /// Throws a coded error unless a file can be written at <paramref name="path"/> without replacing one of
    /// <paramref name="inputs"/>; creates its folder.
    /// </summary>
    /// <param name="path">The file the command will write.</param>
    /// <param name="option">The option that named it, for the message.</param>
    /// <param name="inputs">The files the command reads.</param>
    public static void CheckWritable(string path, string option, IEnumerable<string> inputs)
    {
        CheckNotInput(path, option, inputs);
        var full = Path.GetFullPath(path);
        if (Directory.Exists(full)) throw new ModelBuildException(ErrorCodes.FileSystemRefused, $"{option} names a folder; give a file path", full);
        var folder = Path.GetDirectoryName(full)!;
        try
        {
            Directory.CreateDirectory(folder);
            // What AtomicFile will do: a temporary file beside the target (then a rename).
            using (File.Create(Path.Combine(folder, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.probe"), 1, FileOptions.DeleteOnClose)) { }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelBuildException(ErrorCodes.FileSystemRefused, $"{option} cannot be written: {e.Message}", full);
        }
    }
}

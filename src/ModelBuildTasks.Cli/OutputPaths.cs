namespace ModelBuildTasks.Cli;

/// <summary>
/// Output paths, checked before any work: a compression of many minutes must not end in "access
/// denied", nor be reported as an internal error.
/// </summary>
static class OutputPaths
{
    /// <summary>Throws a coded error unless a file can be written at <paramref name="path"/>; creates its folder.</summary>
    /// <param name="path">The file the command will write.</param>
    /// <param name="option">The option that named it, for the message.</param>
    public static void CheckWritable(string path, string option)
    {
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

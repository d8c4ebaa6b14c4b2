namespace ModelBuildTasks.Cli;

/// <summary>
/// Output paths, checked before any work: a compression of many minutes must not end in "access
/// denied", nor be reported as an internal error.
/// </summary>
static class OutputPaths
{
    /// <summary>
    /// The files a command reads, looked at once however many outputs are checked against them: a
    /// dataset folder of tens of thousands of images was otherwise looked up again for every output.
    /// </summary>
    public sealed class Inputs
    {
        // Linux file names are case-sensitive; Windows' and macOS's usually are not (and a false alarm there
        // costs a rename, a miss the user's model).
        static readonly StringComparison Comparison = OperatingSystem.IsLinux() ? StringComparison.Ordinal : StringComparison.OrdinalIgnoreCase;

        readonly ILookup<string, int> byName;
        readonly List<int> links;
        readonly List<string> files;

        /// <summary>Takes the files the command reads, in the order a refusal should name the first of them.</summary>
        /// <param name="files">The files the command reads.</param>
        public Inputs(IEnumerable<string> files)
        {
            this.files = files.ToList();
            // Resolving every component of a path costs a look-up per folder: only an input with the output's
            // name, or a link (whose target may have it), can be the output, so only those are resolved later.
            byName = Enumerable.Range(0, this.files.Count).ToLookup(i => Path.GetFileName(this.files[i]), StringComparer.FromComparison(Comparison));
            links = Enumerable.Range(0, this.files.Count).Where(i => IsLink(this.files[i])).ToList();
        }

        /// <summary>The first input that is the file <paramref name="path"/> (through links too), or null.</summary>
        public string? Find(string path)
        {
            var target = InputFile.RealPath(path);
            foreach (var i in byName[Path.GetFileName(target)].Concat(links).Distinct().Order())
                if (File.Exists(files[i]) && string.Equals(InputFile.RealPath(files[i]), target, Comparison)) return files[i];
            return null;
        }
    }

    /// <summary>
    /// Throws a coded error when two of a command's outputs are one file: each is written whole, so the last
    /// would silently replace the others (a report named as the container, say).
    /// </summary>
    /// <param name="outputs">Each output and the option that named it.</param>
    public static void CheckDistinct(IEnumerable<(string Path, string Option)> outputs)
    {
        var comparison = OperatingSystem.IsLinux() ? StringComparer.Ordinal : StringComparer.OrdinalIgnoreCase;
        var seen = new Dictionary<string, string>(comparison);
        foreach (var (path, option) in outputs)
        {
            var full = InputFile.RealPath(path);
            if (seen.TryGetValue(full, out var other))
                throw new ModelBuildException(ErrorCodes.InvalidSetting, $"{option} and {other} name the same file; give each output its own path", full);
            seen[full] = option;
        }
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
    /// <paramref name="inputs"/>; creates nothing.
    /// </summary>
    /// <param name="path">The file the command will write.</param>
    /// <param name="option">The option that named it, for the message.</param>
    /// <param name="inputs">The files the command reads.</param>
    /// <remarks>
    /// The output replaces its target atomically, so <c>compress m.onnx -o m.onnx</c> would silently swap
    /// the user's only copy of the model for the container (or a dataset for its subset): an output that
    /// is an input is refused.
    /// </remarks>
    public static void CheckWritable(string path, string option, Inputs inputs)
    {
        if (inputs.Find(path) is { } input)
            throw new ModelBuildException(ErrorCodes.InvalidSetting, $"{option} is the input {input}: writing it would replace that file; choose another output path", Path.GetFullPath(path));
        var full = Path.GetFullPath(path);
        if (Directory.Exists(full)) throw new ModelBuildException(ErrorCodes.FileSystemRefused, $"{option} names a folder; give a file path", full);
        // The output replaces its path by a rename: a link would be replaced, not the file it points to, and a
        // device (/dev/null) or FIFO by a regular file.
        if (InputFile.SpecialKind(full) is { } kind)
            throw new ModelBuildException(ErrorCodes.InvalidSetting, $"{option} is {kind}, which writing would replace by a regular file; give the path of a regular file", full);
        var folder = Path.GetDirectoryName(full)!;
        try
        {
            // What AtomicFile will do: a temporary file beside the target (then a rename). A folder still to be made is
            // probed in the nearest one that exists (AtomicFile makes the rest), so a check (--check) leaves no folders behind.
            var existing = folder;
            while (!Directory.Exists(existing))
            {
                if (File.Exists(existing)) throw new IOException($"{existing} is a file, not a folder");
                existing = Path.GetDirectoryName(existing) ?? throw new IOException($"no folder of {folder} exists");
            }
            try
            {
                using (File.Create(Path.Combine(existing, $".mbt.{Guid.NewGuid():N}.probe"), 1, FileOptions.DeleteOnClose)) { }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The system's message names the probe, a file the user never asked for: the folder is what refused.
                throw new IOException($"{existing} refuses new files ({(e is UnauthorizedAccessException ? "no permission" : "not a writable folder")})");
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelBuildException(ErrorCodes.FileSystemRefused, $"{option} cannot be written: {e.Message}", full);
        }
    }
}

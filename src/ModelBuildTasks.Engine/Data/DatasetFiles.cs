namespace ModelBuildTasks.Data;

/// <summary>
/// Which files a DATASET path stands for, by the same rules everywhere (the engine's cache key and
/// the MSBuild task's up-to-date check; the task links this file, so it depends on nothing).
/// </summary>
public static class DatasetFiles
{
    /// <summary>Throws the coded error for a DATASET path that is neither a file nor a folder; <paramref name="what"/> names it in the message.</summary>
    public static void RequireExists(string path, string what = "dataset")
    {
        if (!File.Exists(path) && !Directory.Exists(path)) throw new ModelBuildException(ErrorCodes.DatasetNotFound, $"{what} not found", path);
    }

    /// <summary>The labels file name that belongs to an images file name (<c>images</c> -> <c>labels</c>, <c>idx3</c>/<c>idx4</c> -> <c>idx1</c>).</summary>
    public static string LabelsFileName(string imagesFileName) =>
        imagesFileName.Replace("images", "labels", StringComparison.Ordinal).Replace("idx3", "idx1", StringComparison.Ordinal).Replace("idx4", "idx1", StringComparison.Ordinal);

    /// <summary>The labels file beside an IDX images file, or null when there is none.</summary>
    public static string? LabelsPathFor(string imagesPath)
    {
        var name = Path.GetFileName(imagesPath);
        if (!name.Contains("images", StringComparison.Ordinal)) return null;
        var folder = Path.GetDirectoryName(Path.GetFullPath(imagesPath))!;
        var labelsName = LabelsFileName(name);
        var plain = labelsName.EndsWith(".gz", StringComparison.Ordinal) ? labelsName[..^3] : labelsName;
        foreach (var candidate in new[] { labelsName, plain, plain + ".gz" })
        {
            var path = Path.Combine(folder, candidate);
            if (File.Exists(path)) return path;
        }
        return null;
    }

    /// <summary>
    /// The files of a DATASET with stable names, in a stable order: every file of an image folder
    /// (hidden ones excluded), a .npz alone, or an IDX images file and its labels file. Empty when the path does not exist.
    /// </summary>
    public static IEnumerable<(string Relative, string Full)> Enumerate(string path)
    {
        if (Directory.Exists(path))
            return Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories)
                .Select(f => (Relative: Path.GetRelativePath(path, f).Replace('\\', '/'), Full: f))
                .Where(f => !f.Relative.Split('/').Any(p => p.StartsWith('.')))
                .OrderBy(f => f.Relative, StringComparer.Ordinal)
                .ToList();
        if (!File.Exists(path)) return [];
        var files = new List<(string, string)> { ("images", path) };
        if (!path.EndsWith(".npz", StringComparison.OrdinalIgnoreCase) && LabelsPathFor(path) is { } labels) files.Add(("labels", labels));
        return files;
    }
}

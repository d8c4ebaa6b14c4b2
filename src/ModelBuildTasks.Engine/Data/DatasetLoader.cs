namespace ModelBuildTasks.Data;

/// <summary>
/// Loads a dataset from a path, whatever its kind: an image folder, a <c>.npz</c> with <c>x</c>
/// and <c>y</c>, or an IDX images file (plain or .gz, labels found beside it). This is what a
/// DATASET argument means everywhere, in the CLI and in the csproj.
/// </summary>
public static class DatasetLoader
{
    /// <summary>Loads and preprocesses the dataset at <paramref name="path"/> (large results as they are read: <see cref="Preprocessing.Prepare"/>).</summary>
    /// <param name="path">An image folder, a .npz, or an IDX images file.</param>
    /// <param name="spec">The preprocessing; null for the default.</param>
    /// <param name="limit">Keep only the first images (taken before preprocessing, which may enlarge them).</param>
    public static ImageDataset Load(string path, PreprocessSpec? spec = null, int? limit = null)
    {
        spec ??= PreprocessSpec.Default;
        var raw = LoadRaw(path, spec.Resize, spec.Channels);
        if (limit is { } n && n < raw.Count) raw = raw.Subset(Enumerable.Range(0, n).ToArray());
        return Preprocessing.Prepare(raw, spec);
    }

    /// <summary>Loads raw pixel values without preprocessing (image folders are resized, and converted to <paramref name="channels"/>, while loading if asked).</summary>
    /// <param name="path">An image folder, a .npz, or an IDX images file.</param>
    /// <param name="resize">The preprocessing's <c>resize=</c>, applied to an image folder's files as they are read.</param>
    /// <param name="channels">The preprocessing's <c>channels=</c>, to which an image folder's files are converted as they are read (each on its own, as the app does).</param>
    public static ImageDataset LoadRaw(string path, (int Height, int Width)? resize = null, int? channels = null)
    {
        if (resize is { } r) DatasetLimits.CheckedProduct([r.Height, r.Width], DatasetLimits.MaxImagePixels, path, "resize=HxW");
        ImageDataset data;
        if (Directory.Exists(path)) data = ImageFolderDataset.Load(path, resize, channels);
        else if (!File.Exists(path)) throw new ModelBuildException(ErrorCodes.DatasetNotFound, "dataset not found (expected an IDX images file, a .npz file or an image folder)", path);
        else if (path.EndsWith(".npz", StringComparison.OrdinalIgnoreCase)) data = NpzDataset.Load(path);
        else data = IdxDataset.Load(path);
        // Accuracy over no images is 0/0; every measure downstream would be NaN.
        if (data.Count == 0 || data.ImageSize == 0) throw DataErrors.Invalid(path, "the dataset holds no images (or images of no pixels)");
        return data;
    }
}

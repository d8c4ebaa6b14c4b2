using ModelBuildTasks.Runtime;
using StbImageSharp;

namespace ModelBuildTasks.Data;

/// <summary>
/// Loads an image folder: one subfolder per class (sorted by name; the names become the class
/// names), image files inside (the formats <c>PredictImage</c> reads: <see cref="ImageDecoding.FileExtensions"/>). All images must have the same size unless a resize is
/// given. A folder with no subfolders but images is read as unlabeled data.
/// </summary>
public static class ImageFolderDataset
{
    /// <summary>Reads the folder. <paramref name="resize"/> (height, width) resizes every image while loading.</summary>
    public static ImageDataset Load(string folder, (int Height, int Width)? resize = null)
    {
        var classes = Directory.GetDirectories(folder).Select(Path.GetFileName).OfType<string>()
            .Where(n => !n.StartsWith('.')).Order(StringComparer.Ordinal).ToArray();
        List<(string File, int Label)> files;
        if (classes.Length > 0)
            files = classes.SelectMany((c, label) => ImagesIn(Path.Combine(folder, c)).Select(f => (f, label))).ToList();
        else
            files = ImagesIn(folder).Select(f => (f, -1)).ToList();
        if (files.Count == 0) throw DataErrors.Invalid(folder, $"the image folder has no image files ({string.Join(", ", ImageDecoding.FileExtensions)})");

        // The first image decides grey or RGB for all, as the runtime decides it for each image it is given.
        var first = Decode(files[0].File, ImageDecoding.GreyOrRgb);
        var components = first.Comp;
        var channels = components == ColorComponents.Grey ? 1 : 3;
        var (height, width) = resize ?? (first.Height, first.Width);
        var size = channels * height * width;
        DatasetLimits.CheckedProduct([files.Count, channels, height, width], DatasetLimits.MaxValues, folder, "the image folder");
        var pixels = new float[(long)files.Count * size];
        for (var i = 0; i < files.Count; i++)
        {
            var image = Decode(files[i].File, _ => components);
            var chw = Layout.HwcToChw<byte>(image.Data, 1, image.Height, image.Width, channels);
            if (image.Height != height || image.Width != width)
            {
                if (resize is null)
                    throw DataErrors.Invalid(files[i].File,
                        $"image is {image.Width}x{image.Height} but {Path.GetFileName(files[0].File)} is {width}x{height}; add resize=HxW to the preprocessing");
                chw = BilinearResize.Resize(chw, channels, image.Height, image.Width, height, width);
            }
            chw.CopyTo(pixels, (long)i * size);
        }
        var labels = classes.Length > 0 ? files.Select(f => f.Label).ToArray() : null;
        return new ImageDataset(pixels, files.Count, channels, height, width, labels, classes.Length > 0 ? classes : null, eightBit: true, source: folder);
    }

    static IEnumerable<string> ImagesIn(string folder) =>
        Directory.GetFiles(folder).Where(f => ImageDecoding.FileExtensions.Contains(Path.GetExtension(f).ToLowerInvariant())).Order(StringComparer.Ordinal);

    static ImageResult Decode(string file, Func<ImageInfo, ColorComponents> components)
    {
        try
        {
            return ImageDecoding.Decode(InputFile.ReadAllBytes(file, DatasetLimits.MaxFileBytes, ErrorCodes.InvalidDataset, ErrorCodes.InvalidDataset), components);
        }
        catch (InvalidDataException e)
        {
            throw DataErrors.Invalid(file, e.Message);
        }
    }
}

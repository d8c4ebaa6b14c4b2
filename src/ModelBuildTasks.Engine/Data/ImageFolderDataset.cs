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

        // The first file decides grey or RGB for the set (a grey model's folder with a colour file in it stays grey). Each
        // file is decoded as it is, resized in float on its own channels and then converted in float (luma, or grey
        // replicated), the steps and order of the runtime's PredictImage. One case still differs: a colour file in a set
        // whose first file is grey, for a 3-channel model, is measured as its grey where the app would give its colours.
        var first = Decode(files[0].File);
        var channels = Channels(first);
        var (height, width) = resize ?? (first.Height, first.Width);
        var plane = height * width;
        DatasetLimits.CheckedProduct([files.Count, channels, height, width], DatasetLimits.MaxValues, folder, "the image folder");
        var pixels = new float[(long)files.Count * channels * plane];
        for (var i = 0; i < files.Count; i++)
        {
            var image = i == 0 ? first : Decode(files[i].File);
            var own = Channels(image);
            var chw = Layout.HwcToChw<byte>(image.Data, 1, image.Height, image.Width, own);
            if (image.Height != height || image.Width != width)
            {
                if (resize is null)
                    throw DataErrors.Invalid(files[i].File,
                        $"image is {image.Width}x{image.Height} but {Path.GetFileName(files[0].File)} is {width}x{height}; add resize=HxW to the preprocessing");
                chw = BilinearResize.Resize(chw, own, image.Height, image.Width, height, width);
            }
            if (own != channels) chw = Preprocessing.ConvertChannels(chw, own, channels, plane);
            chw.CopyTo(pixels, (long)i * channels * plane);
        }
        var labels = classes.Length > 0 ? files.Select(f => f.Label).ToArray() : null;
        return new ImageDataset(pixels, files.Count, channels, height, width, labels, classes.Length > 0 ? classes : null, eightBit: true, source: folder);
    }

    static IEnumerable<string> ImagesIn(string folder) =>
        Directory.GetFiles(folder).Where(f => ImageDecoding.FileExtensions.Contains(Path.GetExtension(f).ToLowerInvariant())).Order(StringComparer.Ordinal);

    static int Channels(ImageResult image) => image.Comp == ColorComponents.Grey ? 1 : 3;

    static ImageResult Decode(string file)
    {
        try
        {
            return ImageDecoding.Decode(InputFile.ReadAllBytes(file, DatasetLimits.MaxFileBytes, ErrorCodes.InvalidDataset, ErrorCodes.InvalidDataset), ImageDecoding.GreyOrRgb);
        }
        catch (InvalidDataException e)
        {
            throw DataErrors.Invalid(file, e.Message);
        }
    }
}

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
    /// <param name="folder">The folder.</param>
    /// <param name="resize">Height and width every image is resized to, if given.</param>
    /// <param name="channels">The channels the preprocessing asks for (<c>channels=</c>): each file is converted to them, as the
    /// app converts each file it is given to the model's. Without it, the first file decides grey or RGB for the set.</param>
    public static ImageDataset Load(string folder, (int Height, int Width)? resize = null, int? channels = null)
    {
        var classes = Directory.GetDirectories(folder).Select(Path.GetFileName).OfType<string>()
            .Where(n => !n.StartsWith('.')).Order(StringComparer.Ordinal).ToArray();
        List<(string File, int Label)> files;
        if (classes.Length > 0)
            files = classes.SelectMany((c, label) => ImagesIn(Path.Combine(folder, c)).Select(f => (f, label))).ToList();
        else
            files = ImagesIn(folder).Select(f => (f, -1)).ToList();
        if (files.Count == 0) throw DataErrors.Invalid(folder, $"the image folder has no image files ({string.Join(", ", ImageDecoding.FileExtensions)})");

        // Each file is decoded as it is, resized in float on its own channels and then converted in float (luma, or grey
        // replicated) to the channels asked for, the steps and order of the runtime's PredictImage. Without channels= the
        // first file decides (a grey model's folder with a colour file in it stays grey).
        var first = Decode(files[0].File);
        var setChannels = channels ?? Channels(first);
        var (height, width) = resize ?? (first.Height, first.Width);
        var plane = height * width;
        DatasetLimits.CheckedProduct([files.Count, setChannels, height, width], DatasetLimits.MaxValues, folder, "the image folder");
        var pixels = new float[(long)files.Count * setChannels * plane];
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
            if (own != setChannels) chw = Preprocessing.ConvertChannels(chw, own, setChannels, plane);
            chw.CopyTo(pixels, (long)i * setChannels * plane);
        }
        var labels = classes.Length > 0 ? files.Select(f => f.Label).ToArray() : null;
        return new ImageDataset(pixels, files.Count, setChannels, height, width, labels, classes.Length > 0 ? classes : null, eightBit: true, source: folder);
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

namespace ModelBuildTasks.Data;

/// <summary>
/// Loads an IDX images file and, when it exists, the labels file beside it named by the MNIST
/// convention (<c>train-images-idx3-ubyte.gz</c> -> <c>train-labels-idx1-ubyte.gz</c>).
/// </summary>
public static class IdxDataset
{
    /// <summary>Reads images of rank 3 (N x H x W, grey) or 4 (N x H x W x C), and their labels if found.</summary>
    public static ImageDataset Load(string imagesPath)
    {
        var (dims, values) = IdxFormat.Read(imagesPath);
        if (dims.Length is not (3 or 4))
            throw DataErrors.Invalid(imagesPath, $"an IDX images file must have 3 or 4 dimensions, this one has {dims.Length}");
        int count = dims[0], height = dims[1], width = dims[2], channels = dims.Length == 4 ? dims[3] : 1;
        var pixels = Layout.HwcToChw(values, count, height, width, channels);

        int[]? labels = null;
        if (DatasetFiles.LabelsPathFor(imagesPath) is { } labelsPath)
        {
            var (labelDims, labelValues) = IdxFormat.Read(labelsPath);
            if (labelDims.Length != 1)
                throw DataErrors.Invalid(labelsPath, "an IDX labels file must have 1 dimension");
            if (labelDims[0] != count)
                throw new ModelBuildException(ErrorCodes.LabelCountMismatch,
                    $"{count} images in {Path.GetFileName(imagesPath)} but {labelDims[0]} labels in {Path.GetFileName(labelsPath)}", labelsPath);
            labels = labelValues.Select(v => (int)v).ToArray();
        }
        return new ImageDataset(pixels, count, channels, height, width, labels, eightBit: true, source: imagesPath);
    }
}

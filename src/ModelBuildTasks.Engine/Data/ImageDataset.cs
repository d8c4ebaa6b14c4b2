namespace ModelBuildTasks.Data;

/// <summary>
/// Images in memory as one float array in NCHW order, with optional labels. Readers produce raw
/// pixel values (0..255 for 8-bit sources); <see cref="Preprocessing"/> turns them into what the
/// model expects.
/// </summary>
public sealed class ImageDataset
{
    /// <summary>Creates a dataset; <paramref name="pixels"/> must hold <paramref name="count"/> images of C x H x W.</summary>
    public ImageDataset(float[] pixels, int count, int channels, int height, int width, int[]? labels,
        IReadOnlyList<string>? classNames = null, bool eightBit = false, string source = "")
    {
        if ((long)count * channels * height * width != pixels.Length)
            throw new ArgumentException($"{pixels.Length} values are not {count} images of {channels}x{height}x{width}", nameof(pixels));
        if (labels is not null && labels.Length != count)
            throw new ModelBuildException(ErrorCodes.LabelCountMismatch, $"there are {count} images but {labels.Length} labels", source);
        Pixels = pixels;
        Count = count;
        Channels = channels;
        Height = height;
        Width = width;
        Labels = labels;
        ClassNames = classNames;
        EightBit = eightBit;
        Source = source;
    }

    /// <summary>All pixel values, image after image, each in C x H x W order.</summary>
    public float[] Pixels { get; }
    /// <summary>Number of images.</summary>
    public int Count { get; }
    /// <summary>Channels per image.</summary>
    public int Channels { get; }
    /// <summary>Image height.</summary>
    public int Height { get; }
    /// <summary>Image width.</summary>
    public int Width { get; }
    /// <summary>Class index per image, or null for unlabeled data.</summary>
    public int[]? Labels { get; }
    /// <summary>Class names by index, when the source names them (an image folder does).</summary>
    public IReadOnlyList<string>? ClassNames { get; }
    /// <summary>True when the values are raw 8-bit pixels (0..255) not yet scaled.</summary>
    public bool EightBit { get; }
    /// <summary>Where the data came from (for messages).</summary>
    public string Source { get; }

    /// <summary>True when every image has a label.</summary>
    public bool HasLabels => Labels is not null;
    /// <summary>Values per image (C x H x W).</summary>
    public int ImageSize => Channels * Height * Width;
    /// <summary>The shape of one image, written as <c>1x28x28</c>.</summary>
    public string ImageShape => $"{Channels}x{Height}x{Width}";

    /// <summary>The pixels of image <paramref name="index"/>.</summary>
    public ReadOnlySpan<float> Image(int index) => Pixels.AsSpan(index * ImageSize, ImageSize);

    /// <summary>A new dataset with the images at <paramref name="indices"/>, in that order.</summary>
    public ImageDataset Subset(IReadOnlyList<int> indices)
    {
        var pixels = new float[(long)indices.Count * ImageSize];
        for (var i = 0; i < indices.Count; i++) Image(indices[i]).CopyTo(pixels.AsSpan(i * ImageSize, ImageSize));
        var labels = Labels is null ? null : indices.Select(i => Labels[i]).ToArray();
        return new ImageDataset(pixels, indices.Count, Channels, Height, Width, labels, ClassNames, EightBit, Source);
    }

    /// <summary>The same images with other pixel values (used by preprocessing).</summary>
    internal ImageDataset WithPixels(float[] pixels, int channels, int height, int width, bool eightBit) =>
        new(pixels, Count, channels, height, width, Labels, ClassNames, eightBit, Source);
}

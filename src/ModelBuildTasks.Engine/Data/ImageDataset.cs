namespace ModelBuildTasks.Data;

/// <summary>
/// Images in NCHW order, with optional labels. Readers produce raw pixel values (0..255 for 8-bit
/// sources); <see cref="Preprocessing"/> turns them into what the model expects, either at once or,
/// when that would take too much memory (500 images resized to 224x224x3 are 300 MB of floats),
/// image by image as they are read (<see cref="Preprocessing.OnRead"/>). Read images with
/// <see cref="CopyImages"/> or <see cref="Image"/>, which work either way.
/// </summary>
public sealed class ImageDataset
{
    readonly float[]? pixels; // the images, when held as they are
    readonly (ImageDataset Raw, PreprocessSpec Spec)? onRead; // else raw images and what turns them into these

    /// <summary>Creates a dataset; <paramref name="pixels"/> must hold <paramref name="count"/> images of C x H x W.</summary>
    public ImageDataset(float[] pixels, int count, int channels, int height, int width, int[]? labels,
        IReadOnlyList<string>? classNames = null, bool eightBit = false, string source = "")
        : this(count, channels, height, width, labels, classNames, eightBit, source)
    {
        if ((long)count * channels * height * width != pixels.Length)
            throw new ArgumentException($"{pixels.Length} values are not {count} images of {channels}x{height}x{width}", nameof(pixels));
        this.pixels = pixels;
    }

    // The images `spec` makes of `raw`'s, preprocessed when read.
    internal ImageDataset(ImageDataset raw, PreprocessSpec spec, int channels, int height, int width)
        : this(raw.Count, channels, height, width, raw.Labels, raw.ClassNames, eightBit: false, raw.Source) =>
        onRead = (raw, spec);

    ImageDataset(int count, int channels, int height, int width, int[]? labels, IReadOnlyList<string>? classNames, bool eightBit, string source)
    {
        if (labels is not null && labels.Length != count)
            throw new ModelBuildException(ErrorCodes.LabelCountMismatch, $"there are {count} images but {labels.Length} labels", source);
        Count = count;
        Channels = channels;
        Height = height;
        Width = width;
        Labels = labels;
        ClassNames = classNames;
        EightBit = eightBit;
        Source = source;
    }

    /// <summary>
    /// All pixel values, image after image, each in C x H x W order: only for images held as they are
    /// (<see cref="IsPreprocessedOnRead"/> false). <see cref="CopyImages"/> reads any dataset.
    /// </summary>
    public float[] Pixels => pixels ?? throw new InvalidOperationException("these images are preprocessed as they are read: read them with CopyImages");

    /// <summary>True when the images are raw ones preprocessed as they are read.</summary>
    public bool IsPreprocessedOnRead => onRead is not null;
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

    /// <summary>The pixels of image <paramref name="index"/> (a new array when preprocessed as read).</summary>
    public ReadOnlySpan<float> Image(int index)
    {
        if (pixels is not null) return pixels.AsSpan(index * ImageSize, ImageSize);
        var image = new float[ImageSize];
        CopyImages(index, 1, image);
        return image;
    }

    /// <summary>Copies the <paramref name="count"/> images from <paramref name="start"/> on into <paramref name="destination"/>.</summary>
    public void CopyImages(int start, int count, Span<float> destination)
    {
        if (pixels is not null) pixels.AsSpan(start * ImageSize, count * ImageSize).CopyTo(destination);
        else Preprocessing.Apply(onRead!.Value.Raw, onRead.Value.Spec, start, count, destination);
    }

    /// <summary>A new dataset with the images at <paramref name="indices"/>, in that order (preprocessed as read if these are).</summary>
    public ImageDataset Subset(IReadOnlyList<int> indices)
    {
        if (onRead is { } lazy) return Preprocessing.OnRead(lazy.Raw.Subset(indices), lazy.Spec);
        var subset = new float[(long)indices.Count * ImageSize];
        for (var i = 0; i < indices.Count; i++) Image(indices[i]).CopyTo(subset.AsSpan(i * ImageSize, ImageSize));
        var labels = Labels is null ? null : indices.Select(i => Labels[i]).ToArray();
        return new ImageDataset(subset, indices.Count, Channels, Height, Width, labels, ClassNames, EightBit, Source);
    }

    /// <summary>The same images, class <c>i</c> relabelled <c>classes[i]</c> of <paramref name="classNames"/> (see <see cref="LabelNames.Align"/>).</summary>
    internal ImageDataset WithClassOrder(int[] classes, IReadOnlyList<string> classNames)
    {
        var labels = Labels?.Select(l => l >= 0 && l < classes.Length ? classes[l] : l).ToArray();
        if (onRead is { } lazy) return new ImageDataset(lazy.Raw.WithClassOrder(classes, classNames), lazy.Spec, Channels, Height, Width);
        return new ImageDataset(pixels!, Count, Channels, Height, Width, labels, classNames, EightBit, Source);
    }

    /// <summary>The same images with other pixel values (used by preprocessing).</summary>
    internal ImageDataset WithPixels(float[] values, int channels, int height, int width, bool eightBit) =>
        new(values, Count, channels, height, width, Labels, ClassNames, eightBit, Source);
}

using ModelBuildTasks.Runtime;

namespace ModelBuildTasks.Data;

/// <summary>Applies a <see cref="PreprocessSpec"/> to a dataset of raw images.</summary>
public static class Preprocessing
{
    /// <summary>Preprocessed datasets larger than this are preprocessed as they are read (<see cref="Prepare"/>).</summary>
    public const long MaxHeldBytes = 64L << 20;

    /// <summary>Returns a new dataset with resized, converted and normalised pixels.</summary>
    public static ImageDataset Apply(ImageDataset raw, PreprocessSpec spec)
    {
        var (channels, height, width) = Shape(raw, spec);
        DatasetLimits.CheckedProduct([raw.Count, channels, height, width], DatasetLimits.MaxValues, raw.Source, "the preprocessed dataset");
        var result = new float[(long)raw.Count * channels * height * width];
        Apply(raw, spec, 0, raw.Count, result);
        return raw.WithPixels(result, channels, height, width, eightBit: false);
    }

    /// <summary>The preprocessed images of <paramref name="raw"/>, made each time they are read: memory stays that of the raw images.</summary>
    public static ImageDataset OnRead(ImageDataset raw, PreprocessSpec spec)
    {
        var (channels, height, width) = Shape(raw, spec);
        if (raw.Count > 0) Apply(raw, spec, 0, 1, new float[channels * height * width]); // a bad spec fails here, not at the first read
        return new ImageDataset(raw, spec, channels, height, width);
    }

    /// <summary>
    /// <see cref="Apply(ImageDataset, PreprocessSpec)"/> when the result takes at most <see cref="MaxHeldBytes"/>,
    /// else <see cref="OnRead"/>: evaluation reads every image once per candidate, so small sets are
    /// preprocessed once and large ones (images resized up) cost a resize per read instead of their memory.
    /// </summary>
    public static ImageDataset Prepare(ImageDataset raw, PreprocessSpec spec)
    {
        var (channels, height, width) = Shape(raw, spec);
        return (long)raw.Count * channels * height * width * sizeof(float) > MaxHeldBytes ? OnRead(raw, spec) : Apply(raw, spec);
    }

    // Preprocesses raw images start..start+count-1 into `destination`.
    internal static void Apply(ImageDataset raw, PreprocessSpec spec, int start, int count, Span<float> destination)
    {
        var (channels, height, width) = Shape(raw, spec);
        var scale = spec.Scale ?? (raw.EightBit ? 1f / 255f : 1f);
        var mean = PerChannel(spec.Mean, channels, "mean");
        var std = PerChannel(spec.Std, channels, "std");
        var size = channels * height * width;
        var plane = height * width;
        var images = new float[count][];
        Parallel.For(0, count, i =>
        {
            var image = raw.Image(start + i).ToArray();
            if (raw.Height != height || raw.Width != width)
                image = BilinearResize.Resize(image, raw.Channels, raw.Height, raw.Width, height, width);
            image = ConvertChannels(image, raw.Channels, channels, plane);
            for (var c = 0; c < channels; c++)
            for (var p = 0; p < plane; p++)
                image[c * plane + p] = (image[c * plane + p] * scale - mean[c]) / std[c];
            images[i] = image;
        });
        for (var i = 0; i < count; i++) images[i].CopyTo(destination.Slice(i * size, size));
    }

    static (int Channels, int Height, int Width) Shape(ImageDataset raw, PreprocessSpec spec)
    {
        var (height, width) = spec.Resize ?? (raw.Height, raw.Width);
        return (spec.Channels ?? raw.Channels, height, width);
    }

    internal static float[] ConvertChannels(float[] image, int from, int to, int plane)
    {
        if (from == to) return image;
        var result = new float[to * plane];
        if (from == 1)
        {
            for (var c = 0; c < to; c++) Array.Copy(image, 0, result, c * plane, plane);
        }
        else if (to == 1 && from >= 3)
        {
            for (var p = 0; p < plane; p++)
                result[p] = 0.299f * image[p] + 0.587f * image[plane + p] + 0.114f * image[2 * plane + p];
        }
        else throw new ModelBuildException(ErrorCodes.InvalidPreprocessing, $"cannot convert {from} channels to {to}");
        return result;
    }

    static float[] PerChannel(float[] values, int channels, string name) =>
        values.Length == 1 ? Enumerable.Repeat(values[0], channels).ToArray()
        : values.Length == channels ? values
        : throw new ModelBuildException(ErrorCodes.InvalidPreprocessing, $"invalid preprocessing: {name} has {values.Length} values for {channels} channels");
}

namespace ModelBuildTasks.Data;

/// <summary>Applies a <see cref="PreprocessSpec"/> to a dataset of raw images.</summary>
public static class Preprocessing
{
    /// <summary>Returns a new dataset with resized, converted and normalised pixels.</summary>
    public static ImageDataset Apply(ImageDataset raw, PreprocessSpec spec)
    {
        var channels = spec.Channels ?? raw.Channels;
        var (height, width) = spec.Resize ?? (raw.Height, raw.Width);
        var scale = spec.Scale ?? (raw.EightBit ? 1f / 255f : 1f);
        var mean = PerChannel(spec.Mean, channels, "mean");
        var std = PerChannel(spec.Std, channels, "std");
        var size = channels * height * width;
        var plane = height * width;
        DatasetLimits.CheckedProduct([raw.Count, channels, height, width], DatasetLimits.MaxValues, raw.Source, "the preprocessed dataset");
        var result = new float[(long)raw.Count * size];
        Parallel.For(0, raw.Count, i =>
        {
            var image = raw.Image(i).ToArray();
            if (raw.Height != height || raw.Width != width)
                image = Resize.Bilinear(image, raw.Channels, raw.Height, raw.Width, height, width);
            image = ConvertChannels(image, raw.Channels, channels, plane);
            var target = result.AsSpan(i * size, size);
            for (var c = 0; c < channels; c++)
            for (var p = 0; p < plane; p++)
                target[c * plane + p] = (image[c * plane + p] * scale - mean[c]) / std[c];
        });
        return raw.WithPixels(result, channels, height, width, eightBit: false);
    }

    static float[] ConvertChannels(float[] image, int from, int to, int plane)
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

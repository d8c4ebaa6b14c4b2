namespace ModelBuildTasks.Data;

/// <summary>Memory layout conversions for image batches.</summary>
static class Layout
{
    /// <summary>Converts N x H x W x C values to floats in N x C x H x W order.</summary>
    public static float[] HwcToChw<T>(ReadOnlySpan<T> values, int count, int height, int width, int channels) where T : System.Numerics.INumberBase<T>
    {
        var result = new float[(long)count * channels * height * width];
        var plane = height * width;
        var image = plane * channels;
        for (var n = 0; n < count; n++)
        for (var p = 0; p < plane; p++)
        for (var c = 0; c < channels; c++)
            result[n * image + c * plane + p] = float.CreateTruncating(values[n * image + p * channels + c]);
        return result;
    }
}

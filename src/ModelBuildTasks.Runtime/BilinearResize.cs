namespace ModelBuildTasks.Runtime;

/// <summary>
/// Image resizing, one implementation for the engine's datasets and the shipped runtime's <c>PredictImage</c>, so an
/// app resizes exactly as the build measured. The engine links this file: the runtime must not depend on its assemblies.
/// </summary>
internal static class BilinearResize
{
    /// <summary>
    /// Bilinear resize of one C x H x W image as Pillow's <c>Image.resize(BILINEAR)</c> and torchvision's
    /// <c>Resize(antialias=True)</c> do it, the resize training pipelines use: a triangle filter centred on each
    /// output pixel (pixel centres aligned), one pixel wide on each side when enlarging (plain bilinear, the 2x2
    /// pixels around the centre) and as wide as the shrink factor when shrinking, so a photo shrunk to 224x224
    /// averages every pixel instead of sampling four and aliasing. Two passes, one per axis, with the weights of each
    /// computed once (<see cref="TriangleTaps"/>).
    /// </summary>
    public static float[] Resize(ReadOnlySpan<float> image, int channels, int height, int width, int newHeight, int newWidth)
    {
        // An axis whose size stays is copied: its filter would weigh each pixel 1 and its neighbour 0.
        var across = width == newWidth ? null : TriangleTaps.For(width, newWidth);
        var down = height == newHeight ? null : TriangleTaps.For(height, newHeight);
        // The filter is separable, so either order gives the same image up to float rounding. Shrinking the height
        // first leaves the pass across fewer rows (the slower pass: a short sum per pixel, where the pass down adds
        // whole rows at once); otherwise across first, the order of the former 2x2 resize, so enlarged images come out
        // as before (to the bit from 28x28 to 224x224).
        var downFirst = newHeight < height;
        var result = new float[channels * newHeight * newWidth];
        var between = new float[downFirst ? newHeight * width : height * newWidth]; // one channel after the first pass
        for (var c = 0; c < channels; c++)
        {
            var plane = image.Slice(c * height * width, height * width);
            var output = result.AsSpan(c * newHeight * newWidth, newHeight * newWidth);
            if (downFirst)
            {
                Down(down, plane, width, newHeight, between);
                Across(across, between, newHeight, width, newWidth, output);
            }
            else
            {
                Across(across, plane, height, width, newWidth, between);
                Down(down, between, newWidth, newHeight, output);
            }
        }
        return result;
    }

    static void Across(TriangleTaps? taps, ReadOnlySpan<float> source, int rows, int width, int newWidth, Span<float> target)
    {
        if (taps is null) { source.CopyTo(target); return; }
        for (var y = 0; y < rows; y++) taps.Apply(source.Slice(y * width, width), target.Slice(y * newWidth, newWidth));
    }

    static void Down(TriangleTaps? taps, ReadOnlySpan<float> source, int width, int newHeight, Span<float> target)
    {
        if (taps is null) { source.CopyTo(target); return; }
        for (var y = 0; y < newHeight; y++) taps.AccumulateRows(y, source, width, target.Slice(y * width, width));
    }
}

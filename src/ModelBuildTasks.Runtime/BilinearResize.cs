namespace ModelBuildTasks.Runtime;

/// <summary>
/// Image resizing, one implementation for the engine's datasets and the shipped runtime's <c>PredictImage</c>, so an
/// app resizes exactly as the build measured. The engine links this file: the runtime must not depend on its assemblies.
/// </summary>
internal static class BilinearResize
{
    /// <summary>
    /// Bilinear resize of one C x H x W image (pixel centres aligned, as OpenCV and PIL do). Each output pixel
    /// blends the 2x2 source pixels around its centre, as OpenCV's INTER_LINEAR does: shrinking a large photo
    /// many times over skips the pixels in between, where PIL and torchvision's antialiased resize average them.
    /// </summary>
    public static float[] Resize(ReadOnlySpan<float> image, int channels, int height, int width, int newHeight, int newWidth)
    {
        var result = new float[channels * newHeight * newWidth];
        var sy = (float)height / newHeight;
        var sx = (float)width / newWidth;
        for (var c = 0; c < channels; c++)
        {
            var plane = image.Slice(c * height * width, height * width);
            for (var y = 0; y < newHeight; y++)
            {
                var fy = Math.Clamp((y + 0.5f) * sy - 0.5f, 0, height - 1);
                var y0 = (int)fy;
                var y1 = Math.Min(y0 + 1, height - 1);
                var wy = fy - y0;
                for (var x = 0; x < newWidth; x++)
                {
                    var fx = Math.Clamp((x + 0.5f) * sx - 0.5f, 0, width - 1);
                    var x0 = (int)fx;
                    var x1 = Math.Min(x0 + 1, width - 1);
                    var wx = fx - x0;
                    var top = plane[y0 * width + x0] * (1 - wx) + plane[y0 * width + x1] * wx;
                    var bottom = plane[y1 * width + x0] * (1 - wx) + plane[y1 * width + x1] * wx;
                    result[(c * newHeight + y) * newWidth + x] = top * (1 - wy) + bottom * wy;
                }
            }
        }
        return result;
    }
}

using ModelBuildTasks.Runtime;

namespace ModelBuildTasks.Engine.Tests;

/// <summary>
/// The resize every image goes through (engine datasets and the runtime's PredictImage) against the filter it
/// follows, Pillow's BILINEAR (and torchvision's antialiased bilinear), written here from its definition: output
/// pixel o of n, from m input pixels, is centred at c = (o + 0.5) * m / n; input pixel i weighs
/// max(0, 1 - |i + 0.5 - c| / s) with s = max(m / n, 1); the weights are divided by their sum. The reference sums
/// over every input pixel in double, with dense weight matrices, where the implementation keeps only the taps.
/// </summary>
public class BilinearResizeTests
{
    static double[,] TriangleWeights(int from, int to)
    {
        var scale = (double)from / to;
        var s = Math.Max(scale, 1.0);
        var weights = new double[to, from];
        for (var o = 0; o < to; o++)
        {
            var c = (o + 0.5) * scale;
            var total = 0.0;
            for (var i = 0; i < from; i++) total += weights[o, i] = Math.Max(0, 1 - Math.Abs(i + 0.5 - c) / s);
            for (var i = 0; i < from; i++) weights[o, i] /= total;
        }
        return weights;
    }

    // out[c, y, x] = sum over (i, j) of wy[y, i] * wx[x, j] * in[c, i, j]: the filter is a product of the two axes'.
    static double[] Reference(float[] image, int channels, int height, int width, int newHeight, int newWidth)
    {
        var wy = TriangleWeights(height, newHeight);
        var wx = TriangleWeights(width, newWidth);
        var result = new double[channels * newHeight * newWidth];
        var across = new double[height * newWidth];
        for (var c = 0; c < channels; c++)
        {
            Array.Clear(across);
            for (var i = 0; i < height; i++)
            for (var x = 0; x < newWidth; x++)
            for (var j = 0; j < width; j++)
                across[i * newWidth + x] += wx[x, j] * image[(c * height + i) * width + j];
            for (var y = 0; y < newHeight; y++)
            for (var x = 0; x < newWidth; x++)
            for (var i = 0; i < height; i++)
                result[(c * newHeight + y) * newWidth + x] += wy[y, i] * across[i * newWidth + x];
        }
        return result;
    }

    static float[] RandomImage(int seed, int size)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, size).Select(_ => (float)random.Next(256)).ToArray();
    }

    [Fact]
    public void FourByFourToTwoByTwo_WeighsThreeSevenths_ThreeSevenths_OneSeventh()
    {
        // Shrinking by 2 widens the triangle to 2 input pixels each side. Output pixel 0 is centred at 1.0: input
        // pixels 0, 1, 2, 3 (centres 0.5, 1.5, 2.5, 3.5) lie 0.5, 0.5, 1.5, 2.5 away and weigh 1 - d/2 =
        // 0.75, 0.75, 0.25, 0, which sum to 1.75: 3/7, 3/7, 1/7, 0. Output pixel 1 (centre 3.0) mirrors it. Not the
        // 2x2 block average: the triangle reaches one pixel into the next block.
        double[] left = [3 / 7.0, 3 / 7.0, 1 / 7.0, 0], right = [0, 1 / 7.0, 3 / 7.0, 3 / 7.0];
        double[][] w = [left, right];
        var image = new float[] { 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150, 160 };

        var resized = BilinearResize.Resize(image, 1, 4, 4, 2, 2);

        for (var y = 0; y < 2; y++)
        for (var x = 0; x < 2; x++)
        {
            var expected = 0.0;
            for (var i = 0; i < 4; i++)
            for (var j = 0; j < 4; j++)
                expected += w[y][i] * w[x][j] * image[i * 4 + j];
            Assert.Equal(expected, resized[y * 2 + x], 3);
        }
        Assert.Equal(10 + 10 * 5 / 7.0 + 40 * 5 / 7.0, resized[0], 3); // 3/7*0 + 3/7*1 + 1/7*2 = 5/7 pixel steps on each axis
    }

    [Theory]
    [InlineData(1, 4, 4, 2, 2)]
    [InlineData(3, 37, 53, 10, 7)]
    [InlineData(1, 280, 280, 28, 28)]
    [InlineData(1, 300, 400, 64, 88)] // by 4.7 and 4.5, as a photo to a 224x224 input (the dense reference is slow at that size)
    [InlineData(2, 5, 9, 12, 4)] // taller, narrower
    [InlineData(1, 28, 28, 224, 224)]
    public void Resize_IsThePillowTriangleFilter(int channels, int height, int width, int newHeight, int newWidth)
    {
        var image = RandomImage(height * 31 + width, channels * height * width);
        var resized = BilinearResize.Resize(image, channels, height, width, newHeight, newWidth);
        var expected = Reference(image, channels, height, width, newHeight, newWidth);
        Assert.Equal(expected.Length, resized.Length);
        // Pixels of 0-255 in float: 1e-3 is far below a grey level and far above float rounding over a few dozen taps.
        Assert.All(Enumerable.Range(0, expected.Length), i => Assert.Equal(expected[i], resized[i], 1e-3));
    }

    [Theory]
    [InlineData(28, 28, 224, 224)]
    [InlineData(7, 5, 13, 11)]
    [InlineData(3, 3, 4, 4)]
    public void Enlarging_IsPlainBilinear(int height, int width, int newHeight, int newWidth)
    {
        // OpenCV's INTER_LINEAR in float, what the resize did for every size before: the 2x2 pixels around the output
        // pixel's centre (pixel centres aligned, clamped at the edges), each axis weighing its two by their distance,
        // across first. Enlarging by a power of two, every centre and weight is exact in binary: the same floats.
        var image = RandomImage(height + width, height * width);
        var resized = BilinearResize.Resize(image, 1, height, width, newHeight, newWidth);
        var exact = newHeight / height * height == newHeight && newWidth / width * width == newWidth && int.IsPow2(newHeight / height) && int.IsPow2(newWidth / width);
        float sy = (float)height / newHeight, sx = (float)width / newWidth;
        for (var y = 0; y < newHeight; y++)
        for (var x = 0; x < newWidth; x++)
        {
            var fy = Math.Clamp((y + 0.5f) * sy - 0.5f, 0, height - 1);
            var fx = Math.Clamp((x + 0.5f) * sx - 0.5f, 0, width - 1);
            int y0 = (int)fy, x0 = (int)fx, y1 = Math.Min(y0 + 1, height - 1), x1 = Math.Min(x0 + 1, width - 1);
            float wy = fy - y0, wx = fx - x0;
            var top = image[y0 * width + x0] * (1 - wx) + image[y0 * width + x1] * wx;
            var bottom = image[y1 * width + x0] * (1 - wx) + image[y1 * width + x1] * wx;
            var expected = top * (1 - wy) + bottom * wy;
            if (exact) Assert.Equal(expected, resized[y * newWidth + x]);
            else Assert.Equal(expected, resized[y * newWidth + x], 1e-3);
        }
    }

    [Theory]
    [InlineData(768, 1024, 224, 224)]
    [InlineData(28, 28, 224, 224)]
    [InlineData(100, 3, 7, 1)]
    public void AConstantImage_StaysConstant(int height, int width, int newHeight, int newWidth)
    {
        var image = Enumerable.Repeat(173f, 3 * height * width).ToArray();
        Assert.All(BilinearResize.Resize(image, 3, height, width, newHeight, newWidth), v => Assert.Equal(173f, v, 1e-3));
    }

    [Theory]
    [InlineData(224, 224, 32, 32)] // by 7: the old 2x2 sampling landed on single pixel centres, 0 or 255
    [InlineData(280, 280, 28, 28)] // by 10
    [InlineData(768, 1024, 224, 224)] // a photo to a ResNet input, by 3.4 and 4.6
    public void ACheckerboardShrunk_ComesOutMidGrey_NotAliasedToBlackAndWhite(int height, int width, int newHeight, int newWidth)
    {
        // One-pixel squares of 0 and 255: detail far finer than the output's pixels, which should average it (127.5).
        // Sampling 2x2 pixels per output pixel turned it into a pattern of its own, up to black and white.
        var board = new float[height * width];
        for (var y = 0; y < height; y++)
        for (var x = 0; x < width; x++)
            board[y * width + x] = (x + y) % 2 == 0 ? 0 : 255;
        var resized = BilinearResize.Resize(board, 1, height, width, newHeight, newWidth);
        // Within 2 grey levels. The filter is a product of the two axes', so an output pixel is 127.5 off by the product
        // of each axis' imbalance between even and odd pixels, relative to 127.5: the triangle's halves do not balance
        // exactly at a fractional scale (up to 9 levels on the photo's axes, 0.6 in two dimensions). Sampling 2x2 pixels
        // was off by 127.5 (by 7) and 93 (the photo).
        Assert.All(resized, v => Assert.InRange(v, 125.5f, 129.5f));
    }
}

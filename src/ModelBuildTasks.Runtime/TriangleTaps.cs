using System.Numerics;

namespace ModelBuildTasks.Runtime;

/// <summary>
/// The weights of one axis of a <see cref="BilinearResize"/>, computed once per resize as Pillow's
/// <c>precompute_coeffs</c> does for its BILINEAR filter: output pixel <c>o</c> of <c>n</c>, from <c>m</c> input
/// pixels, is centred at <c>(o + 0.5) * m / n</c> in input pixels; input pixel <c>i</c> weighs
/// <c>max(0, 1 - |i + 0.5 - centre| / s)</c> with <c>s = max(m / n, 1)</c>, and the weights are scaled to sum to 1
/// (at the edges, where part of the triangle falls outside the image, too). The engine links this file.
/// </summary>
internal sealed class TriangleTaps
{
    readonly int[] first; // the first input pixel each output pixel reads
    readonly int[] count; // how many it reads
    readonly float[] weights; // theirs, `stride` per output pixel
    readonly int stride;

    TriangleTaps(int[] first, int[] count, float[] weights, int stride) =>
        (this.first, this.count, this.weights, this.stride) = (first, count, weights, stride);

    /// <summary>The taps that resize an axis of <paramref name="inputSize"/> pixels to <paramref name="outputSize"/>.</summary>
    public static TriangleTaps For(int inputSize, int outputSize)
    {
        var scale = (double)inputSize / outputSize;
        var support = Math.Max(scale, 1.0); // the triangle's half-width, in input pixels
        var stride = (int)Math.Ceiling(support) * 2 + 1;
        var first = new int[outputSize];
        var count = new int[outputSize];
        var weights = new float[outputSize * stride];
        var taps = new double[stride];
        for (var o = 0; o < outputSize; o++)
        {
            var centre = (o + 0.5) * scale;
            // Every pixel whose centre lies within the support, and no pixel outside the image.
            var from = Math.Max((int)Math.Floor(centre - support + 0.5), 0);
            var to = Math.Min((int)Math.Floor(centre + support + 0.5), inputSize);
            var total = 0.0;
            for (var i = from; i < to; i++) total += taps[i - from] = Math.Max(0.0, 1.0 - Math.Abs(i + 0.5 - centre) / support);
            for (var i = from; i < to; i++) weights[o * stride + i - from] = (float)(taps[i - from] / total);
            first[o] = from;
            count[o] = to - from;
        }
        return new TriangleTaps(first, count, weights, stride);
    }

    /// <summary>Resizes one row: each output pixel the weighted sum of its input pixels.</summary>
    public void Apply(ReadOnlySpan<float> input, Span<float> output)
    {
        for (var o = 0; o < output.Length; o++)
        {
            int from = first[o], n = count[o], at = o * stride;
            var sum = 0f;
            for (var k = 0; k < n; k++) sum += input[from + k] * weights[at + k];
            output[o] = sum;
        }
    }

    /// <summary>
    /// Output row <paramref name="o"/> of a resize down the columns: the weighted sum of the input rows it reads,
    /// whole rows at a time (contiguous, unlike a column), a vector of pixels at once. Each pixel's sum adds the
    /// same products in the same order as <see cref="Apply"/> does, so both passes round alike.
    /// </summary>
    public void AccumulateRows(int o, ReadOnlySpan<float> rows, int width, Span<float> output)
    {
        int from = first[o], n = count[o], at = o * stride, x = 0;
        if (Vector.IsHardwareAccelerated)
            for (; x <= width - Vector<float>.Count; x += Vector<float>.Count)
            {
                var sum = Vector<float>.Zero;
                for (var k = 0; k < n; k++) sum += new Vector<float>(rows.Slice((from + k) * width + x)) * weights[at + k];
                sum.CopyTo(output.Slice(x));
            }
        for (; x < width; x++)
        {
            var sum = 0f;
            for (var k = 0; k < n; k++) sum += rows[(from + k) * width + x] * weights[at + k];
            output[x] = sum;
        }
    }
}

using ModelBuildTasks.Data;
using ModelBuildTasks.Graph;

namespace ModelBuildTasks.Passes.Slimming;

/// <summary>The mean of each channel of one tensor and the covariance between channels, over images and positions.</summary>
/// <param name="Mean">Per channel: what a consumer still receives, on average, from it.</param>
/// <param name="Covariance">C x C, row-major: how channels vary together (what the kept ones can stand in for).</param>
/// <param name="Samples">Images x positions the moments were measured over.</param>
public sealed record ChannelMoments(double[] Mean, double[] Covariance, long Samples)
{
    /// <summary>Channel count.</summary>
    public int Channels => Mean.Length;
    /// <summary>The variance of channel <paramref name="c"/>: what a consumer loses when it goes and only its mean is handed over.</summary>
    public double Variance(int c) => Covariance[c * Mean.Length + c];
}

/// <summary>
/// Channel moments of chosen float tensors over calibration images. Without fine-tuning, a removed
/// channel's mean goes to its consumers' biases, so what removal really costs is its variance (a
/// channel scaled by a small BatchNorm gamma is close to its constant relu(beta): mean, no variance),
/// less what the kept channels it varies with can take over (the covariance).
/// </summary>
public static class ChannelStatistics
{
    // Moments converge fast: a few dozen images give them to well under the quantization step.
    const int MaxImages = 64;

    /// <summary>Per tensor, the moments of its channels (axis 1).</summary>
    /// <param name="model">The float model (not modified).</param>
    /// <param name="tensors">Float node outputs or the graph input, of rank 2 or more.</param>
    /// <param name="data">Preprocessed images.</param>
    public static Dictionary<string, ChannelMoments> Measure(OnnxModel model, IReadOnlyCollection<string> tensors, ImageDataset data)
    {
        var images = data.Count > MaxImages ? DatasetSplit.Sample(data, MaxImages, seed: 5) : data;
        var channels = tensors.ToDictionary(t => t, t => ChannelCount(model.Graph, t), StringComparer.Ordinal);
        var sums = tensors.ToDictionary(t => t, t => new double[channels[t]], StringComparer.Ordinal);
        var products = tensors.ToDictionary(t => t, t => new double[channels[t] * channels[t]], StringComparer.Ordinal);
        var counts = tensors.ToDictionary(t => t, _ => 0L, StringComparer.Ordinal);
        void Add(string name, int count, ReadOnlySpan<float> batch)
        {
            var c = channels[name];
            var positions = batch.Length / count / c; // [count, C, positions...]
            var (sum, product) = (sums[name], products[name]);
            var values = batch.ToArray();
            for (var n = 0; n < count; n++)
            {
                var offset = n * c * positions;
                for (var k = 0; k < c; k++) sum[k] += System.Numerics.Tensors.TensorPrimitives.Sum(values.AsSpan(offset + k * positions, positions));
                // The lower triangle of X X^T, rows in parallel (each row writes only its own cells).
                Parallel.For(0, c, i =>
                {
                    var xi = values.AsSpan(offset + i * positions, positions);
                    for (var j = 0; j <= i; j++) product[i * c + j] += System.Numerics.Tensors.TensorPrimitives.Dot(xi, values.AsSpan(offset + j * positions, positions));
                });
            }
            counts[name] += (long)count * positions;
        }
        using var runner = Quantization.Calibrator.Exposing(model, tensors);
        runner.ForEachBatch(images, tensors.ToArray(), (_, count, name, values) => Add(name, count, values));
        return tensors.ToDictionary(t => t, t =>
        {
            var (c, n) = (channels[t], Math.Max(1, counts[t]));
            var mean = sums[t].Select(s => s / n).ToArray();
            var covariance = new double[c * c];
            for (var i = 0; i < c; i++)
                for (var j = 0; j <= i; j++)
                    covariance[i * c + j] = covariance[j * c + i] = products[t][i * c + j] / n - mean[i] * mean[j];
            for (var i = 0; i < c; i++) covariance[i * c + i] = Math.Max(0, covariance[i * c + i]);
            return new ChannelMoments(mean, covariance, counts[t]);
        }, StringComparer.Ordinal);
    }

    static int ChannelCount(ModelGraph graph, string tensor)
    {
        var shape = graph.Inputs.FirstOrDefault(i => i.Name == tensor)?.Shape ?? (graph.ValueInfos.TryGetValue(tensor, out var info) ? info.Shape : null);
        return shape is { Rank: >= 2 } s && s[1].IsKnown ? (int)s[1].Value : throw new ArgumentException($"tensor '{tensor}' has no known channel count", nameof(tensor));
    }
}

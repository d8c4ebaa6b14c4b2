using ModelBuildTasks.Data;
using ModelBuildTasks.Evaluation;
using ModelBuildTasks.Graph;

namespace ModelBuildTasks.Passes.Slimming;

/// <summary>
/// The mean of every channel (or feature) of chosen float tensors over calibration images: what a
/// layer still receives, on average, from an input channel that slimming removes. Without
/// fine-tuning, that average is the bulk of the channel's contribution (a channel scaled by a small
/// BatchNorm gamma is close to its constant relu(beta)), so the consumer's bias takes it over.
/// </summary>
public static class ChannelMeans
{
    // Means converge fast: a few dozen images give them to well under the quantization step.
    const int MaxImages = 64;

    /// <summary>Per tensor, the mean of each channel (axis 1) over images and positions.</summary>
    /// <param name="model">The float model (not modified).</param>
    /// <param name="tensors">Float node outputs or the graph input, of rank 2 or more.</param>
    /// <param name="data">Preprocessed images.</param>
    public static Dictionary<string, double[]> Measure(OnnxModel model, IReadOnlyCollection<string> tensors, ImageDataset data)
    {
        var images = data.Count > MaxImages ? DatasetSplit.Sample(data, MaxImages, seed: 5) : data;
        var inputName = model.Graph.Inputs[0].Name;
        var channels = tensors.ToDictionary(t => t, t => ChannelCount(model.Graph, t), StringComparer.Ordinal);
        var sums = tensors.ToDictionary(t => t, t => new double[channels[t]], StringComparer.Ordinal);
        var counts = tensors.ToDictionary(t => t, _ => 0L, StringComparer.Ordinal);
        void Add(string name, int count, ReadOnlySpan<float> values)
        {
            var c = channels[name];
            var positions = values.Length / count / c; // [count, C, positions...]
            var sum = sums[name];
            for (var i = 0; i < count; i++)
                for (var k = 0; k < c; k++)
                    sum[k] += System.Numerics.Tensors.TensorPrimitives.Sum(values.Slice((i * c + k) * positions, positions));
            counts[name] += (long)count * positions;
        }
        if (tensors.Contains(inputName)) Add(inputName, images.Count, images.Pixels);
        var fetch = tensors.Where(t => t != inputName).ToArray();
        if (fetch.Length > 0)
        {
            using var runner = Quantization.Calibrator.Exposing(model, fetch);
            runner.ForEachBatch(images, fetch, (_, count, name, values) => Add(name, count, values));
        }
        return sums.ToDictionary(kv => kv.Key, kv => kv.Value.Select(s => counts[kv.Key] > 0 ? s / counts[kv.Key] : 0).ToArray(), StringComparer.Ordinal);
    }

    static int ChannelCount(ModelGraph graph, string tensor)
    {
        var shape = graph.Inputs.FirstOrDefault(i => i.Name == tensor)?.Shape ?? (graph.ValueInfos.TryGetValue(tensor, out var info) ? info.Shape : null);
        return shape is { Rank: >= 2 } s && s[1].IsKnown ? (int)s[1].Value : throw new ArgumentException($"tensor '{tensor}' has no known channel count", nameof(tensor));
    }
}

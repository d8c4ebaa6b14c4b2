using ModelBuildTasks.Data;
using ModelBuildTasks.Evaluation;
using ModelBuildTasks.Graph;

namespace ModelBuildTasks.Passes.Quantization;

/// <summary>
/// Measures the value ranges of chosen intermediate tensors by running the float model on
/// calibration images with ONNX Runtime (those tensors exposed as extra outputs, optimisations off
/// so they are computed exactly as written).
/// </summary>
public static class Calibrator
{
    const int Bins = 2048;

    /// <summary>Returns a range per tensor name.</summary>
    /// <param name="model">The float model (not modified).</param>
    /// <param name="tensors">The float tensors to measure (graph inputs or node outputs).</param>
    /// <param name="data">Preprocessed calibration images.</param>
    /// <param name="method">MinMax or Percentile.</param>
    /// <param name="percentile">For <see cref="CalibrationMethod.Percentile"/>: the percentile of |x| kept, e.g. 99.99.</param>
    public static Dictionary<string, ActivationRange> Calibrate(OnnxModel model, IReadOnlyList<string> tensors, ImageDataset data,
        CalibrationMethod method, double percentile = 99.99)
    {
        using var runner = Exposing(model, tensors);

        var min = tensors.ToDictionary(t => t, _ => float.MaxValue, StringComparer.Ordinal);
        var max = tensors.ToDictionary(t => t, _ => float.MinValue, StringComparer.Ordinal);
        runner.ForEachBatch(data, tensors, (_, _, name, values) =>
        {
            if (values.IsEmpty) return;
            // Vectorized, one dictionary lookup per batch: a 224x224 model has millions of activations per image.
            var (low, high) = (System.Numerics.Tensors.TensorPrimitives.Min(values), System.Numerics.Tensors.TensorPrimitives.Max(values));
            if (float.IsNaN(low) || float.IsNaN(high)) (low, high) = FiniteRange(values); // NaN propagates through Min/Max; a range skips it
            min[name] = Math.Min(min[name], low);
            max[name] = Math.Max(max[name], high);
        });
        var ranges = tensors.ToDictionary(t => t, t => new ActivationRange(Math.Min(0, min[t]), Math.Max(0, max[t])), StringComparer.Ordinal);
        if (method == CalibrationMethod.MinMax) return ranges;

        // Percentile: a histogram of |x| per tensor over [0, max|x|], then the bin where the percentile falls.
        var histograms = tensors.ToDictionary(t => t, _ => new long[Bins], StringComparer.Ordinal);
        runner.ForEachBatch(data, tensors, (_, _, name, values) =>
        {
            var limit = Math.Max(-ranges[name].Min, ranges[name].Max);
            if (limit <= 0) return;
            var h = histograms[name];
            foreach (var v in values) h[Math.Min(Bins - 1, (int)(Math.Abs(v) / limit * Bins))]++;
        });
        return tensors.ToDictionary(t => t, t =>
        {
            var limit = Math.Max(-ranges[t].Min, ranges[t].Max);
            var h = histograms[t];
            var total = h.Sum();
            long seen = 0;
            var bin = Bins - 1;
            for (var i = 0; i < Bins; i++)
            {
                seen += h[i];
                if (seen >= total * percentile / 100) { bin = i; break; }
            }
            var clip = limit * (bin + 1) / Bins;
            return new ActivationRange(Math.Max(ranges[t].Min, -clip), Math.Min(ranges[t].Max, clip));
        }, StringComparer.Ordinal);
    }

    /// <summary>
    /// A session over the float model with <paramref name="tensors"/> exposed as extra outputs,
    /// optimisations off so they are computed exactly as written, in small batches for large images
    /// (every exposed tensor of a batch comes back at once), split into parts run at once on the threads as scoring
    /// runs them: no image's values depend on the split, and the parts are visited in image order.
    /// The graph input is not an output: <see cref="ModelRunner.ForEachBatch"/> visits it from the images.
    /// </summary>
    internal static ModelRunner Exposing(OnnxModel model, IEnumerable<string> tensors)
    {
        var proto = OnnxExport.ToProto(model);
        var existing = proto.Graph.Output.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
        var inputName = model.Graph.Inputs[0].Name;
        foreach (var name in tensors.Where(t => !existing.Contains(t) && t != inputName).Distinct(StringComparer.Ordinal))
            proto.Graph.Output.Add(new Onnx.Proto.ValueInfoProto { Name = name, Type = new Onnx.Proto.TypeProto { TensorType = new Onnx.Proto.TypeProto.Types.Tensor { ElemType = (int)ElementType.Float } } });
        return new ModelRunner(Onnx.OnnxModelFile.ToBytes(proto), new RunnerOptions { Optimize = false, BatchSize = 32, MaxBatchValues = 1L << 18 });
    }

    static (float Min, float Max) FiniteRange(ReadOnlySpan<float> values)
    {
        var (low, high) = (float.MaxValue, float.MinValue);
        foreach (var v in values)
        {
            if (v < low) low = v;
            if (v > high) high = v;
        }
        return (low, high);
    }

}

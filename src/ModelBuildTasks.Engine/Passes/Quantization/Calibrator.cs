using Microsoft.ML.OnnxRuntime;
using ModelBuildTasks.Data;
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
        var proto = OnnxExport.ToProto(model);
        var existing = proto.Graph.Output.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
        var inputName = model.Graph.Inputs[0].Name;
        foreach (var name in tensors.Where(t => !existing.Contains(t) && t != inputName))
            proto.Graph.Output.Add(new Onnx.Proto.ValueInfoProto { Name = name, Type = new Onnx.Proto.TypeProto { TensorType = new Onnx.Proto.TypeProto.Types.Tensor { ElemType = (int)ElementType.Float } } });
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL };
        using var session = new InferenceSession(Onnx.OnnxModelFile.ToBytes(proto), options);
        var inputDims = session.InputMetadata[inputName].Dimensions.Select(d => (long)d).ToArray();
        var batch = inputDims[0] > 0 ? (int)inputDims[0] : 32;

        var min = tensors.ToDictionary(t => t, _ => float.MaxValue, StringComparer.Ordinal);
        var max = tensors.ToDictionary(t => t, _ => float.MinValue, StringComparer.Ordinal);
        ForEachBatch(session, inputName, inputDims, batch, data, tensors, (name, values) =>
        {
            foreach (var v in values)
            {
                if (v < min[name]) min[name] = v;
                if (v > max[name]) max[name] = v;
            }
        });
        var ranges = tensors.ToDictionary(t => t, t => new ActivationRange(Math.Min(0, min[t]), Math.Max(0, max[t])), StringComparer.Ordinal);
        if (method == CalibrationMethod.MinMax) return ranges;

        // Percentile: a histogram of |x| per tensor over [0, max|x|], then the bin where the percentile falls.
        var histograms = tensors.ToDictionary(t => t, _ => new long[Bins], StringComparer.Ordinal);
        ForEachBatch(session, inputName, inputDims, batch, data, tensors, (name, values) =>
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

    static void ForEachBatch(InferenceSession session, string inputName, long[] inputDims, int batch, ImageDataset data,
        IReadOnlyList<string> tensors, Action<string, ReadOnlySpan<float>> visit)
    {
        using var runOptions = new RunOptions();
        var names = tensors.ToArray();
        for (var start = 0; start < data.Count; start += batch)
        {
            var count = Math.Min(batch, data.Count - start);
            var rows = inputDims[0] > 0 ? batch : count;
            var input = new float[rows * data.ImageSize];
            data.Pixels.AsSpan(start * data.ImageSize, count * data.ImageSize).CopyTo(input);
            var shape = inputDims.ToArray();
            shape[0] = rows;
            using var value = OrtValue.CreateTensorValueFromMemory(input, shape);
            var fetch = names.Where(n => n != inputName).ToArray();
            using var outputs = session.Run(runOptions, [inputName], [value], fetch);
            for (var i = 0; i < fetch.Length; i++)
            {
                var all = outputs[i].GetTensorDataAsSpan<float>();
                visit(fetch[i], all[..(all.Length / rows * count)]); // padding rows of a fixed batch are not data
            }
            if (names.Contains(inputName)) visit(inputName, input.AsSpan(0, count * data.ImageSize));
        }
    }
}

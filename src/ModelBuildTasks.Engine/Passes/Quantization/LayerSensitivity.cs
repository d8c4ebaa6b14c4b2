using ModelBuildTasks.Data;
using ModelBuildTasks.Graph;

namespace ModelBuildTasks.Passes.Quantization;

/// <summary>
/// Which layers cost the most when quantized: the fallback when no uniform bit width keeps the
/// accuracy (issue 13, scope 5). The whole model is quantized once at the given bits and run beside
/// the float model on a few images; each layer's cost is how much relative squared error its output
/// carries beyond what its input already carried, i.e. the error its own weights and input
/// quantization add. One pair of runs ranks every layer, instead of one evaluation per layer.
/// </summary>
public static class LayerSensitivity
{
    /// <summary>The quantizable layers' weight names, the costliest first.</summary>
    /// <param name="model">The float model (not modified).</param>
    /// <param name="images">Calibration images; at most 32 are used (4 of images over 100,000 values).</param>
    /// <param name="bits">The grid the layers are measured on.</param>
    public static IReadOnlyList<string> Rank(OnnxModel model, ImageDataset images, int bits)
    {
        var sample = images.Count > Limit(images) ? DatasetSplit.Sample(images, Limit(images), seed: 13) : images;
        var (folded, _) = QdqQuantizer.Folded(model);
        var quantized = QdqQuantizer.Quantize(model, sample, new QuantizationOptions { Bits = bits, PadChannels = false }).Model;
        var layers = folded.Graph.Nodes
            .Where(n => n.OpType is "Conv" or "Gemm" or "MatMul" && WeightQuantization.OutputAxis(folded.Graph, n) is not null)
            .Select(n => (Weights: n.Inputs[1], Input: n.Inputs[0], Output: n.Outputs[0])).ToList();
        var tensors = layers.SelectMany(l => new[] { l.Input, l.Output }).Distinct(StringComparer.Ordinal).ToList();

        // Float values per tensor, batch by batch; then the quantized model's error against them.
        var reference = new Dictionary<(int, string), float[]>();
        using (var runner = Calibrator.Exposing(folded, tensors))
            runner.ForEachBatch(sample, tensors, (start, _, name, values) => reference[(start, name)] = values.ToArray());
        var error = tensors.ToDictionary(t => t, _ => 0.0, StringComparer.Ordinal);
        var energy = tensors.ToDictionary(t => t, _ => 0.0, StringComparer.Ordinal);
        using (var runner = Calibrator.Exposing(quantized, tensors))
            runner.ForEachBatch(sample, tensors, (start, _, name, values) =>
            {
                var f = reference[(start, name)];
                for (var i = 0; i < f.Length; i++)
                {
                    var d = (double)values[i] - f[i];
                    error[name] += d * d;
                    energy[name] += (double)f[i] * f[i];
                }
            });
        double Relative(string t) => energy[t] > 0 ? error[t] / energy[t] : 0;
        return [.. layers.OrderByDescending(l => Relative(l.Output) - Relative(l.Input)).Select(l => l.Weights)];
    }

    static int Limit(ImageDataset images) => images.ImageSize > 100_000 ? 4 : 32;
}

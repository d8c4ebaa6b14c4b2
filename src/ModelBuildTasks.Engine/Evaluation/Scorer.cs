using ModelBuildTasks.Data;

namespace ModelBuildTasks.Evaluation;

/// <summary>
/// Scores models image by image on one dataset, against what the original model does there. Built
/// once from the original (its predictions or outputs are the reference), then used for every
/// candidate, so each candidate's scores pair with <see cref="Baseline"/> image by image.
/// </summary>
public sealed class Scorer
{
    readonly int[]? truth;      // labels (accuracy) or the original's top-1 (agreement)
    readonly float[]? reference; // the original's outputs, image after image (cosine)

    Scorer(MetricChoice choice, ImageDataset data, int[]? truth, float[]? reference, double[] baseline)
    {
        Choice = choice;
        Data = data;
        this.truth = truth;
        this.reference = reference;
        Baseline = baseline;
    }

    /// <summary>The metric and why.</summary>
    public MetricChoice Choice { get; }

    /// <summary>The images scored.</summary>
    public ImageDataset Data { get; }

    /// <summary>The original model's per-image scores (1 for every image under agreement and cosine).</summary>
    public double[] Baseline { get; }

    /// <summary>Runs <paramref name="originalOnnx"/> on <paramref name="data"/> once and keeps what candidates are compared with.</summary>
    /// <param name="originalOnnx">The original (fp32) model.</param>
    /// <param name="data">Preprocessed images.</param>
    /// <param name="requested">The metric asked for, or null to choose (<see cref="MetricChoice.Choose"/>).</param>
    /// <param name="options">Session settings.</param>
    /// <param name="displayPath">The model's name in error messages.</param>
    public static Scorer Create(byte[] originalOnnx, ImageDataset data, Metric? requested, RunnerOptions? options = null, string? displayPath = null)
    {
        if (data.Count == 0) throw new ModelBuildException(ErrorCodes.InvalidDataset, "the dataset has no images", data.Source);
        using var runner = new ModelRunner(originalOnnx, options, displayPath);
        var choice = MetricChoice.Choose(requested, runner.OutputDims, data);
        var ones = Enumerable.Repeat(1.0, data.Count).ToArray();
        switch (choice.Metric)
        {
            case Metric.Accuracy:
                var labels = data.Labels!;
                var predicted = runner.PredictTop1(data);
                return new Scorer(choice, data, labels, null, predicted.Select((p, i) => p == labels[i] ? 1.0 : 0.0).ToArray());
            case Metric.Agreement:
                return new Scorer(choice, data, runner.PredictTop1(data), null, ones);
            default:
                return new Scorer(choice, data, null, runner.Outputs(data), ones);
        }
    }

    /// <summary>The per-image scores of <paramref name="onnx"/>, in the order of <see cref="Data"/>.</summary>
    public double[] Score(byte[] onnx, RunnerOptions? options = null, string? displayPath = null)
    {
        using var runner = new ModelRunner(onnx, options, displayPath);
        if (truth is not null) return runner.PredictTop1(Data).Select((p, i) => p == truth[i] ? 1.0 : 0.0).ToArray();
        var outputs = runner.Outputs(Data);
        if (outputs.Length != reference!.Length)
            throw new ModelBuildException(ErrorCodes.InvalidGraph, $"the model's output has {outputs.Length / Data.Count} values per image, the original's {reference.Length / Data.Count}", displayPath);
        var size = outputs.Length / Data.Count;
        var scores = new double[Data.Count];
        for (var i = 0; i < Data.Count; i++) scores[i] = Cosine(outputs.AsSpan(i * size, size), reference.AsSpan(i * size, size));
        return scores;
    }

    /// <summary>
    /// Cosine similarity; two zero vectors are identical (1), one zero vector against a nonzero one
    /// shares nothing (0).
    /// </summary>
    public static double Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double dot = 0, na = 0, nb = 0;
        for (var i = 0; i < a.Length; i++) { dot += (double)a[i] * b[i]; na += (double)a[i] * a[i]; nb += (double)b[i] * b[i]; }
        if (na == 0 && nb == 0) return 1;
        if (na == 0 || nb == 0) return 0;
        return Math.Clamp(dot / Math.Sqrt(na * nb), -1, 1);
    }
}

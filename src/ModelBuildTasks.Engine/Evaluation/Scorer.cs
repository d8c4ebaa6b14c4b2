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
        return Score(runner, null, displayPath);
    }

    /// <summary>
    /// Scores <paramref name="onnx"/> in looks at 1/8, 1/4, 1/2 and all of the images (taken in a fixed
    /// random order, so that every look sees all classes), and stops at the first look where the
    /// candidate is clearly below <paramref name="failBelow"/> (<see cref="PairedBound.ClearlyBelow"/>).
    /// Stopping only ever rejects, so the contract's bound on an accepted candidate is unchanged. Sets
    /// under <see cref="MinImagesForLooks"/> images are scored whole.
    /// </summary>
    /// <returns>The indices into <see cref="Data"/> scored, and their scores (all images, in order, unless stopped).</returns>
    public (int[] Images, double[] Scores) ScoreUntilClearlyBelow(byte[] onnx, double failBelow, string? displayPath = null)
    {
        using var runner = new ModelRunner(onnx, null, displayPath);
        var n = Data.Count;
        if (n < MinImagesForLooks) return (Enumerable.Range(0, n).ToArray(), Score(runner, null, displayPath));
        order ??= DatasetSplit.Permutation(n, seed: 1);
        var baselineMean = Baseline.Average();
        var done = 0;
        var scores = new List<double>(n);
        foreach (var end in new[] { n / 8, n / 4, n / 2, n })
        {
            scores.AddRange(Score(runner, order[done..end], displayPath));
            done = end;
            if (done == n) break;
            var images = order[..done];
            if (PairedBound.ClearlyBelow(scores, images.Select(i => Baseline[i]).ToList(), baselineMean, failBelow))
                return (images, scores.ToArray());
        }
        var all = new double[n];
        for (var i = 0; i < n; i++) all[order[i]] = scores[i];
        return (Enumerable.Range(0, n).ToArray(), all);
    }

    /// <summary>Validation sets smaller than this are scored whole: a look at an eighth of them would be too small to tell anything.</summary>
    public const int MinImagesForLooks = 800;

    int[]? order;

    // The scores of the images at `indices` (all of Data, in order, when null).
    double[] Score(ModelRunner runner, int[]? indices, string? displayPath)
    {
        var data = indices is null ? Data : Data.Subset(indices);
        int Source(int i) => indices is null ? i : indices[i];
        if (truth is not null) return runner.PredictTop1(data).Select((p, i) => p == truth[Source(i)] ? 1.0 : 0.0).ToArray();
        var outputs = runner.Outputs(data);
        var size = reference!.Length / Data.Count;
        if (outputs.Length != size * data.Count)
            throw new ModelBuildException(ErrorCodes.InvalidGraph, $"the model's output has {outputs.Length / data.Count} values per image, the original's {size}", displayPath);
        var scores = new double[data.Count];
        for (var i = 0; i < data.Count; i++) scores[i] = Cosine(outputs.AsSpan(i * size, size), reference.AsSpan(Source(i) * size, size));
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

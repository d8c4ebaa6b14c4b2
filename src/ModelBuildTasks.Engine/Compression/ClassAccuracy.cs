namespace ModelBuildTasks.Compression;

/// <summary>
/// One class's validation accuracy before and after compression: an average drop within budget can
/// hide one class that lost much more, which this shows.
/// </summary>
/// <param name="Class">The class index (the model's output position).</param>
/// <param name="Name">Its name, when the model or the dataset names classes (else empty).</param>
/// <param name="Images">Validation images of this class.</param>
/// <param name="OriginalCorrect">How many of them the original (fp32) model classifies right.</param>
/// <param name="CompressedCorrect">How many of them the compressed model classifies right.</param>
public sealed record ClassAccuracy(int Class, string Name, int Images, int OriginalCorrect, int CompressedCorrect)
{
    /// <summary>The original model's accuracy on this class.</summary>
    public double OriginalAccuracy => Images == 0 ? 0 : (double)OriginalCorrect / Images;

    /// <summary>The compressed model's accuracy on this class.</summary>
    public double CompressedAccuracy => Images == 0 ? 0 : (double)CompressedCorrect / Images;

    /// <summary>
    /// Per-class counts from per-image scores (1 right, 0 wrong) of the original and the compressed
    /// model on images with <paramref name="labels"/>; classes without images are left out.
    /// </summary>
    public static IReadOnlyList<ClassAccuracy> From(IReadOnlyList<int> labels, IReadOnlyList<double> original, IReadOnlyList<double> compressed, IReadOnlyList<string> names)
    {
        if (original.Count != labels.Count || compressed.Count != labels.Count) return [];
        return Enumerable.Range(0, labels.Count).GroupBy(i => labels[i]).OrderBy(g => g.Key)
            .Select(g => new ClassAccuracy(g.Key, g.Key < names.Count ? names[g.Key] : "", g.Count(),
                g.Count(i => original[i] >= 0.5), g.Count(i => compressed[i] >= 0.5)))
            .ToList();
    }
}

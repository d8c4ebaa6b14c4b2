using ModelBuildTasks.Compression;
using ModelBuildTasks.Data;
using ModelBuildTasks.Evaluation;
using ModelBuildTasks.Graph;

namespace ModelBuildTasks.Engine.Tests;

public class MetricTests
{
    static readonly string ValidationPath = TestPaths.FashionValidation;

    static ImageDataset Data(bool labels, int maxLabel = 9) =>
        new(new float[4], 4, 1, 1, 1, labels ? [0, 1, maxLabel, 2] : null);

    [Fact]
    public void TheMetric_IsChosenFromTheOutputAndTheLabels()
    {
        Assert.Equal(Metric.Accuracy, MetricChoice.Choose(null, [-1, 10], Data(labels: true)).Metric);
        Assert.Equal(Metric.Agreement, MetricChoice.Choose(null, [-1, 10], Data(labels: false)).Metric);
        var features = MetricChoice.Choose(null, [1, 512, 1, 1], Data(labels: true));
        Assert.Equal(Metric.Cosine, features.Metric);
        Assert.Contains("[N,512,1,1] is not a class vector", features.Reason);
        Assert.False(features.IsClassifier);
        var misfit = MetricChoice.Choose(null, [-1, 5], Data(labels: true, maxLabel: 9)); // ten classes of labels, five outputs
        Assert.Equal(Metric.Cosine, misfit.Metric);
        Assert.Equal(Metric.Cosine, MetricChoice.Choose(Metric.Cosine, [-1, 10], Data(labels: true)).Metric); // asked for
        // A 1x1-convolution classifier without a Flatten: features unless asked, with the way to ask in the reason.
        var unflattened = MetricChoice.Choose(null, [-1, 10, 1, 1], Data(labels: true));
        Assert.Equal(Metric.Cosine, unflattened.Metric);
        Assert.Contains("ask for --metric accuracy", unflattened.Reason);
        Assert.DoesNotContain("ask for", MetricChoice.Choose(null, [-1, 512, 7, 7], Data(labels: true)).Reason);
        Assert.True(MetricChoice.Choose(Metric.Accuracy, [-1, 10, 1, 1], Data(labels: true)).IsClassifier);
    }

    [Fact]
    public void AMetricThatCannotApply_IsAClearError()
    {
        Assert.Equal(ErrorCodes.InvalidSetting, Assert.Throws<ModelBuildException>(() => MetricChoice.Choose(Metric.Accuracy, [-1, 10], Data(labels: false))).Code);
        Assert.Equal(ErrorCodes.InvalidSetting, Assert.Throws<ModelBuildException>(() => MetricChoice.Choose(Metric.Agreement, [1, 512, 7, 7], Data(labels: false))).Code);
        Assert.Equal(ErrorCodes.InvalidSetting, Assert.Throws<ModelBuildException>(() => MetricChoice.Parse("f1")).Code);
        Assert.Null(MetricChoice.Parse("auto"));
        Assert.Equal(Metric.Cosine, MetricChoice.Parse("Cosine"));
    }

    [Fact]
    public void TheNormalQuantile_MatchesTheTable()
    {
        Assert.Equal(0, PairedBound.Z(0.5), 9);
        Assert.Equal(1.281552, PairedBound.Z(0.9), 5);
        Assert.Equal(1.644854, PairedBound.Z(0.95), 5);
        Assert.Equal(2.326348, PairedBound.Z(0.99), 5);
        Assert.Equal(-1.959964, PairedBound.Z(0.025), 5);
    }

    [Fact]
    public void ThePairedBound_UsesThePerImageDifference()
    {
        // 1,000 images: the baseline gets 900 right; the candidate loses 20 of them and gains 5 others.
        var baseline = Enumerable.Range(0, 1000).Select(i => i < 900 ? 1.0 : 0.0).ToArray();
        var candidate = baseline.Select((b, i) => i < 20 ? 0.0 : i >= 900 && i < 905 ? 1.0 : b).ToArray();
        var guarded = PairedBound.Of(candidate, baseline, 0.95);
        Assert.Equal(0.885, guarded.Mean, 9);
        var diffs = candidate.Zip(baseline, (c, b) => c - b).ToArray();
        var mean = diffs.Average();
        var se = Math.Sqrt(diffs.Sum(d => (d - mean) * (d - mean)) / 999 / 1000);
        Assert.Equal(se, guarded.StandardError, 12);
        Assert.Equal(0.9 + mean - 1.6448536 * se, guarded.Bound, 6);
        Assert.True(guarded.Bound < guarded.Mean);
        // Unpaired, the same two accuracies would have a standard error about three times larger.
        Assert.True(Math.Sqrt(0.885 * 0.115 / 1000 + 0.9 * 0.1 / 1000) > 2.5 * se);
        // Identical outcomes: nothing to be unsure about; confidence 0.5: the point estimate.
        Assert.Equal(0.9, PairedBound.Of(baseline, baseline, 0.99).Bound, 12);
        Assert.Equal(guarded.Mean, PairedBound.Of(candidate, baseline, 0.5).Bound, 12);
    }

    [Fact]
    public void AFeatureExtractor_IsCompressedOnCosineSimilarity_AndItsContainerHasNoLabels()
    {
        using var temp = new TestPaths.TempFolder();
        ModelFile.Save(TestModels.FeatureExtractor(), temp.File("features.onnx"));
        var result = Compressor.Run(temp.File("features.onnx"), ValidationPath, null,
            new CompressionSettings { MaxValidationImages = 300, Methods = ["iq", "dc"], Resolution = 0.1, MaxAccuracyDrop = 1 });
        var r = result.Report;
        Assert.Equal("cosine", r.Measure);
        Assert.Contains("not a class vector", r.MeasureReason);
        Assert.Equal(1.0, r.BaselineAccuracy, 9); // the original is its own reference
        Assert.Equal(0.99, r.TargetAccuracy, 9);
        Assert.True(r.TargetMet);
        Assert.True(r.FinalAccuracyBound >= r.TargetAccuracy && r.FinalAccuracyBound <= r.FinalAccuracy);
        Assert.InRange(r.FinalScoreP5, 0.5, r.FinalAccuracy);
        Assert.True(r.Ratio > 1.2, $"ratio {r.Ratio}"); // a tiny model: the container's tables weigh as much as its weights
        Assert.True(r.Chosen.ContainsKey("bits"));
        var metadata = Packaging.ContainerPackaging.Read(result.Container).Metadata;
        Assert.Equal(Container.ContainerMetadata.Features, metadata.OutputKind);
        Assert.Empty(metadata.Labels);

        // The decoded container really keeps the cosine it was scored with.
        var data = DatasetLoader.Load(ValidationPath, limit: 300);
        var scorer = Scorer.Create(File.ReadAllBytes(temp.File("features.onnx")), data, Metric.Cosine);
        Assert.Equal(r.FinalAccuracy, scorer.Score(Packaging.ContainerPackaging.ToOnnx(result.Container)).Average(), 6);
    }

    [Fact]
    public void TheSearch_DecidesOnTheBound_AndRejectsWhatOnlyThePointEstimatePasses()
    {
        var model = Path.Combine(TestPaths.RepoRoot, "samples/models/fashion_vgg.onnx");
        var r = Compressor.Run(model, ValidationPath, null,
            new CompressionSettings { MaxValidationImages = 500, Methods = ["iq", "dc"], Resolution = 0.1, Confidence = 0.99 }).Report;
        Assert.Equal(0.99, r.Confidence);
        Assert.True(r.TargetMet);
        Assert.True(r.FinalAccuracyBound >= r.TargetAccuracy && r.FinalAccuracyBound < r.FinalAccuracy, $"{r.FinalAccuracyBound} of {r.FinalAccuracy}");
        Assert.All(r.Stages.Where(s => s.Chosen != "off"), s => Assert.True(s.Bound >= s.Target - 1e-9, $"{s.Method}: bound {s.Bound} < {s.Target}"));
        var chosen = Assert.Single(r.Candidates, c => c.Chosen);
        // A candidate whose point estimate met the target but whose bound did not, and which the search
        // did not take although it went further (smaller, or pruned more before weight sharing): the guard decided.
        Assert.Contains(r.Candidates, c => c.Accuracy >= r.TargetAccuracy && c.Bound < r.TargetAccuracy
            && (c.Bytes < chosen.Bytes || (c.DcRatio ?? 0) > (chosen.DcRatio ?? 0)));

        var pointEstimate = Compressor.Run(model, ValidationPath, null,
            new CompressionSettings { MaxValidationImages = 500, Methods = ["iq"], Search = SearchKind.Fixed, Bits = 5, Confidence = 0.5 }).Report;
        Assert.Equal(pointEstimate.FinalAccuracy, pointEstimate.FinalAccuracyBound, 9);
    }
}

using ModelBuildTasks.Compression;
using ModelBuildTasks.Data;
using ModelBuildTasks.Evaluation;
using ModelBuildTasks.Graph;

namespace ModelBuildTasks.Engine.Tests;

/// <summary>
/// A candidate clearly below its threshold stops evaluating after a fraction of the images; one that
/// is not is scored on every image, so the contract's bound on an accepted candidate is unchanged.
/// </summary>
public class SequentialEvaluationTests
{
    static readonly string VggPath = Path.Combine(TestPaths.RepoRoot, "samples/models/fashion_vgg.onnx");
    static readonly string Validation = Path.Combine(TestPaths.RepoRoot, "samples/data/fashion-mnist/val5k-images-idx3-ubyte.gz");
    static readonly ImageDataset Images = DatasetLoader.Load(Validation, PreprocessSpec.Parse(null), limit: 2000);

    // The VGG with its classifier's weights zeroed: it predicts one class for every image.
    static byte[] Broken()
    {
        var model = ModelFile.Load(VggPath);
        var classifier = model.Graph.Nodes.Last(n => n.OpType == "Gemm").Inputs[1];
        model.Graph.Initializers[classifier] = Tensor.FromFloats(classifier, model.Graph.Initializers[classifier].Dims, new float[model.Graph.Initializers[classifier].ElementCount]);
        return OnnxExport.ToBytes(model);
    }

    [Fact]
    public void AClearlyWorseCandidate_StopsAtTheFirstLook_AndIsBelowTheThresholdOnAllImagesToo()
    {
        var scorer = Scorer.Create(OnnxExport.ToBytes(ModelFile.Load(VggPath)), Images, null);
        var threshold = scorer.Baseline.Average() - 0.01;

        var (images, scores) = scorer.ScoreUntilClearlyBelow(Broken(), threshold);

        Assert.Equal(Images.Count / 8, images.Length);
        Assert.Equal(images.Length, scores.Length);
        Assert.True(images.Distinct().Count() == images.Length && images.All(i => i >= 0 && i < Images.Count));
        Assert.True(images.Select(i => Images.Labels![i]).Distinct().Count() >= 8, "the first look sees (nearly) every class");
        Assert.True(scorer.Score(Broken()).Average() < threshold);
    }

    [Fact]
    public void ACandidateNearItsThreshold_IsScoredOnEveryImage_InTheDatasetsOrder()
    {
        var original = OnnxExport.ToBytes(ModelFile.Load(VggPath));
        var scorer = Scorer.Create(original, Images, null);

        var (images, scores) = scorer.ScoreUntilClearlyBelow(original, scorer.Baseline.Average());

        Assert.Equal(Enumerable.Range(0, Images.Count), images);
        Assert.Equal(scorer.Baseline, scores);
    }

    [Fact]
    public void ClearlyBelow_NeedsTheEstimatePlusThreeStandardErrorsToMissTheThreshold()
    {
        var baseline = Enumerable.Repeat(1.0, 100).ToList();
        var allWrong = Enumerable.Repeat(0.0, 100).ToList();
        var fewWrong = Enumerable.Range(0, 100).Select(i => i < 5 ? 0.0 : 1.0).ToList();

        Assert.True(PairedBound.ClearlyBelow(allWrong, baseline, 0.95, 0.9));
        Assert.False(PairedBound.ClearlyBelow(baseline, baseline, 0.95, 0.9));
        // 5 of 100 flipped: estimate 0.90, standard error 0.022; 0.90 + 3 x 0.022 reaches 0.95 but not 0.97.
        Assert.False(PairedBound.ClearlyBelow(fewWrong, baseline, 0.95, 0.95));
        Assert.True(PairedBound.ClearlyBelow(fewWrong, baseline, 0.95, 0.97));
    }

    [Fact]
    public void ACandidateStoppedOnAnEasyPart_KeepsABoundBelowTheThresholdItWasStoppedAgainst()
    {
        // The first eighth of 5,000 images: the original gets 553 of 625 right (88.5%) where it gets 85% of all,
        // and the candidate loses 22 of them. Stopped against 84%, it must not then count as passing 84%.
        var baseline = Enumerable.Range(0, 625).Select(i => i < 553 ? 1.0 : 0.0).ToList();
        var candidate = baseline.Select((b, i) => i < 22 ? 0.0 : b).ToList();
        const double allImagesMean = 0.85, threshold = 0.84;

        Assert.True(PairedBound.ClearlyBelow(candidate, baseline, allImagesMean, threshold));
        Assert.True(PairedBound.Of(candidate, baseline, 0.9).Bound >= threshold); // on the part's own baseline it would pass
        var stopped = PairedBound.Of(candidate, baseline, 0.9, allImagesMean);
        Assert.True(stopped.Bound < threshold, $"bound {stopped.Bound}");
        Assert.Equal(allImagesMean - 22.0 / 625, stopped.Mean, 12);
    }

    [Fact]
    public void TheMarginSearch_StopsClearlyFailingCandidatesEarly_AndReportsItsChoiceOnEveryImage()
    {
        using var temp = new TestPaths.TempFolder();
        var settings = new CompressionSettings { Methods = ["iq", "dc"], MaxValidationImages = 2000, MaxAccuracyDrop = 1 };

        var (_, report) = Compressor.Run(VggPath, Validation, null, settings);

        var stopped = report.Candidates.Where(c => c.StoppedAt is not null).ToList();
        Assert.NotEmpty(stopped); // the first DC guesses above the chosen ratio fail by tens of points
        Assert.All(stopped, c => Assert.Equal(250, c.StoppedAt));
        Assert.All(stopped, c => Assert.False(c.Chosen));
        Assert.True(report.TargetMet);
        Assert.Equal(10, report.PerClass.Count);
        Assert.Equal(2000, report.PerClass.Sum(c => c.Images));
        Assert.Contains("images: clearly below)", report.ToMarkdown());
    }
}

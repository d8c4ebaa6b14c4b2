using ModelBuildTasks.Compression;

namespace ModelBuildTasks.Engine.Tests;

/// <summary>Defects 1 and 10 of issue #12: what decides the written model decides the cache key, without ambiguity.</summary>
public class CacheKeyTests
{
    static readonly string Model = Path.Combine(TestPaths.RepoRoot, "samples/models/fashion_vgg.onnx");
    static readonly string Data = TestPaths.FashionValidation;

    [Fact]
    public void LabelsContainingTheSeparator_GiveDifferentKeys()
    {
        var a = CompressionCache.Key(Model, Data, null, new CompressionSettings { Labels = ["a|b", "c"] });
        var b = CompressionCache.Key(Model, Data, null, new CompressionSettings { Labels = ["a", "b|c"] });
        var none = CompressionCache.Key(Model, Data, null, new CompressionSettings { Labels = null });
        var empty = CompressionCache.Key(Model, Data, null, new CompressionSettings { Labels = [] });
        Assert.NotEqual(a, b);
        Assert.NotEqual(none, empty);
        Assert.Equal(a, CompressionCache.Key(Model, Data, null, new CompressionSettings { Labels = ["a|b", "c"] }));
    }

    [Theory]
    [InlineData(1, null)]
    [InlineData(0, 60.0)] // a time budget alone fine-tunes too: its training data was left out of the key
    public void TheTrainingData_IsPartOfTheKey_WheneverTheSettingsFineTune(int epochs, double? seconds)
    {
        CompressionSettings Settings(string train) => new() { FineTuneEpochs = epochs, FineTuneSeconds = seconds, TrainData = train };
        Assert.NotEqual(CompressionCache.Key(Model, Data, null, Settings(TestPaths.FashionTrain)), CompressionCache.Key(Model, Data, null, Settings(TestPaths.FashionTest)));
        // Without fine-tuning the training data is not read: it cannot change the result.
        Assert.Equal(CompressionCache.Key(Model, Data, null, new CompressionSettings { TrainData = TestPaths.FashionTrain }),
            CompressionCache.Key(Model, Data, null, new CompressionSettings { TrainData = TestPaths.FashionTest }));
    }

    [Fact]
    public void AllowMiss_IsPartOfTheKey()
    {
        var settings = new CompressionSettings();
        Assert.NotEqual(CompressionCache.Key(Model, Data, null, settings, allowMiss: false), CompressionCache.Key(Model, Data, null, settings, allowMiss: true));
    }

    [Theory]
    [InlineData(SearchKind.Fixed)]
    [InlineData(SearchKind.Margin)]
    [InlineData(SearchKind.Grid)]
    public void TheSettingsText_NamesEverySegment(SearchKind search)
    {
        // The report shows this text: a fixed search once left an empty segment (";;") where the search space goes.
        var segments = new CompressionSettings { Search = search }.Canonical().Split(';');
        Assert.All(segments, s => Assert.Matches("^[a-z_0-9]+=", s));
        var space = Assert.Single(segments, s => s.StartsWith("space=", StringComparison.Ordinal));
        Assert.Equal(search == SearchKind.Fixed, space == "space=");
    }
}

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

    [Fact]
    public void AllowMiss_IsPartOfTheKey()
    {
        var settings = new CompressionSettings();
        Assert.NotEqual(CompressionCache.Key(Model, Data, null, settings, allowMiss: false), CompressionCache.Key(Model, Data, null, settings, allowMiss: true));
    }
}

using ModelBuildTasks.Container;
using ModelBuildTasks.Data;
using ModelBuildTasks.Packaging;
using ModelBuildTasks.Passes.Quantization;
using ModelBuildTasks.Runtime;

namespace ModelBuildTasks.Engine.Tests;

public class RuntimeTests
{
    static readonly byte[] Container = Build();
    static readonly ImageDataset Test = DatasetLoader.Load(TestPaths.FashionTest, limit: 64);

    static byte[] Build()
    {
        var (quantized, _) = QdqQuantizer.Quantize(TestModels.Residual(), DatasetLoader.Load(TestPaths.FashionTrain, limit: 64));
        return ContainerPackaging.Pack(quantized, new ContainerMetadata
        {
            Inputs = [new TensorDescription("input", "float", ["N", "1", "28", "28"])],
            Outputs = [new TensorDescription("logits", "float", ["N", "10"])],
            Labels = Enumerable.Range(0, 10).Select(i => $"c{i}").ToArray(),
        });
    }

    [Fact]
    public void ManyThreadsAtOnce_GetTheSameAnswersAsOne()
    {
        using var model = CompressedModel.Load(Container);
        var expected = model.Predict(Test.Pixels, Test.Count);
        var results = new Prediction[Test.Count];
        Parallel.For(0, Test.Count * 4, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            var k = i % Test.Count;
            results[k] = model.Predict(Test.Image(k));
        });
        Assert.Equal(expected.Select(p => p.ClassIndex), results.Select(p => p.ClassIndex));
        Assert.All(results, p => Assert.InRange(p.Score, 0f, 1f));
        Assert.Equal($"c{expected[0].ClassIndex}", expected[0].Label);
    }

    [Fact]
    public void Metadata_Shapes_AndLogits_AreExposed()
    {
        using var model = CompressedModel.Load(new MemoryStream(Container));
        Assert.Equal(784, model.InputSize);
        Assert.Equal(10, model.ClassCount);
        Assert.Equal(-1, model.InputShape[0]);
        Assert.Equal(10, model.Labels.Count);
        var logits = model.Logits(Test.Image(0));
        Assert.Equal(10, logits.Length);
        Assert.Equal(Array.IndexOf(logits, logits.Max()), model.Predict(Test.Image(0)).ClassIndex);
    }

    [Fact]
    public void WrongSizes_MissingResources_AndDisposal_AreClearErrors()
    {
        var model = CompressedModel.Load(Container);
        Assert.Throws<ArgumentException>(() => model.Predict(new float[10]));
        Assert.Throws<FileNotFoundException>(() => CompressedModel.LoadFromResource(typeof(RuntimeTests).Assembly, "absent.cmodel"));
        Assert.Throws<ContainerFormatException>(() => CompressedModel.Load(new byte[200]));
        model.Dispose();
        model.Dispose(); // idempotent
        Assert.Throws<ObjectDisposedException>(() => model.Predict(Test.Image(0)));
    }
}

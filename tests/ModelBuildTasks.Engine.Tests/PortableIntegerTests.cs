using Microsoft.ML.OnnxRuntime;
using ModelBuildTasks.Compression;
using ModelBuildTasks.Data;
using ModelBuildTasks.Evaluation;
using ModelBuildTasks.Graph;
using ModelBuildTasks.Packaging;
using ModelBuildTasks.Passes.Quantization;
using Xunit.Abstractions;

namespace ModelBuildTasks.Engine.Tests;

/// <summary>
/// The integer numerics must not depend on the CPU: on AVX2 without VNNI, ONNX Runtime adds pairs
/// of u8 x s8 products in 16 bits with saturation, so only weights within the portable grid give
/// the same predictions everywhere. <c>session.x64quantprecision=1</c> makes ONNX Runtime take an
/// exact path on such CPUs, so comparing it with the default path detects saturation where it can
/// happen; on CPUs that never saturate both paths are exact and must agree too.
/// </summary>
public class PortableIntegerTests(ITestOutputHelper output)
{
    static readonly ImageDataset Validation = DatasetLoader.Load(TestPaths.FashionValidation);

    [Fact]
    public void SevenBits_IsTheWidestGridWhosePairSumsFitSixteenBits()
    {
        Assert.Equal(7, PortableGrid.MaxBits);
        Assert.Equal(2 * 255 * 63, PortableGrid.LargestPairSum(7));
        Assert.True(PortableGrid.IsPortable(7));
        Assert.False(PortableGrid.IsPortable(8)); // 2 x 255 x 127 = 64,770 > 32,767
        var e = Assert.Throws<ModelBuildException>(() => QdqQuantizer.Quantize(TestModels.Plain(), Validation, new QuantizationOptions { Bits = 8 }));
        Assert.Equal(ErrorCodes.InvalidSetting, e.Code);
        var settings = Assert.Throws<ModelBuildException>(() => new CompressionSettings { Bits = 8, Search = SearchKind.Fixed }.Validate());
        Assert.Contains("AVX2", settings.Message);
        Assert.Equal([7, 6, 5, 4], Search.SearchSpace.From(new CompressionSettings()).Bits);
    }

    [Fact]
    public void EveryQuantizedWeight_StaysWithinThePortableGrid_EvenWithOutliers()
    {
        // One huge weight per channel: the rest round small, the outlier maps to the grid's end.
        var model = TestModels.Plain();
        var conv = model.Graph.Initializers.Values.First(t => t.Dims.Length == 4);
        var values = conv.Floats.ToArray();
        for (var i = 0; i < values.Length; i += 9) values[i] *= 1000;
        model.Graph.Initializers[conv.Name] = Tensor.FromFloats(conv.Name, conv.Dims, values);
        var (quantized, _) = QdqQuantizer.Quantize(model, Validation);
        var weights = quantized.Graph.Initializers.Values.Where(t => t.Type == ElementType.Int8 && t.Dims.Length > 1).ToList();
        Assert.NotEmpty(weights);
        Assert.All(weights, t => Assert.InRange(t.Data.Max(b => Math.Abs((int)(sbyte)b)), 1, 63));
    }

    [Theory]
    [InlineData("vgg")]
    [InlineData("resnet")]
    [InlineData("densenet")]
    public void TheSampleContainers_PredictTheSame_OnTheDefaultAndTheExactKernelPath(string family)
    {
        var model = ModelFile.Load(Path.Combine(TestPaths.RepoRoot, $"samples/models/fashion_{family}.onnx"));
        var onnx = Decoded(QdqQuantizer.Quantize(model, Validation).Model);
        var fast = Outputs(onnx, Validation, exact: false);
        var exact = Outputs(onnx, Validation, exact: true);
        var classes = fast.Length / Validation.Count;
        var same = Enumerable.Range(0, Validation.Count).Count(i => ArgMax(fast, i, classes) == ArgMax(exact, i, classes));
        output.WriteLine($"{family}: {same} of {Validation.Count} predictions agree on {CpuInfo.Describe}");
        Assert.True(same >= 0.999 * Validation.Count, $"{same} of {Validation.Count}");
    }

    [Fact]
    public void ResNet18_Features_AreTheSame_OnTheDefaultAndTheExactKernelPath()
    {
        var images = DatasetSplit.Sample(DatasetLoader.Load(TestPaths.FashionTest, PreprocessSpec.Parse("resize=224x224;channels=3"), limit: 40), 8, seed: 1);
        var onnx = Decoded(QdqQuantizer.Quantize(ModelFile.Load(TestPaths.ResNet18), images).Model);
        var fast = Outputs(onnx, images, exact: false);
        var exact = Outputs(onnx, images, exact: true);
        var size = fast.Length / images.Count;
        var worst = Enumerable.Range(0, images.Count).Min(i => Scorer.Cosine(fast.AsSpan(i * size, size), exact.AsSpan(i * size, size)));
        output.WriteLine($"least cosine similarity between the kernel paths: {worst:0.000000}");
        Assert.True(worst >= 0.9999, $"cosine {worst}");
    }

    // What the app runs: the model packed into a container and decoded again.
    static byte[] Decoded(OnnxModel quantized) =>
        ContainerPackaging.ToOnnx(ContainerPackaging.Pack(quantized, new Container.ContainerMetadata()));

    static float[] Outputs(byte[] onnx, ImageDataset data, bool exact)
    {
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = 1 };
        if (exact) options.AddSessionConfigEntry("session.x64quantprecision", "1");
        using var session = new InferenceSession(onnx, options);
        using var runOptions = new RunOptions();
        var input = session.InputMetadata.Keys.Single();
        var result = new List<float>();
        for (var i = 0; i < data.Count; i++)
        {
            using var value = OrtValue.CreateTensorValueFromMemory(data.Image(i).ToArray(), [1, data.Channels, data.Height, data.Width]);
            using var outputs = session.Run(runOptions, [input], [value], [session.OutputMetadata.Keys.First()]);
            result.AddRange(outputs[0].GetTensorDataAsSpan<float>().ToArray());
        }
        return result.ToArray();
    }

    static int ArgMax(float[] values, int image, int classes)
    {
        var best = 0;
        for (var c = 1; c < classes; c++) if (values[image * classes + c] > values[image * classes + best]) best = c;
        return best;
    }
}

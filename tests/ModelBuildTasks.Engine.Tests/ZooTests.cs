using Microsoft.ML.OnnxRuntime;
using ModelBuildTasks.Compression;
using ModelBuildTasks.Data;
using ModelBuildTasks.Evaluation;
using ModelBuildTasks.Graph;
using ModelBuildTasks.Packaging;
using ModelBuildTasks.Passes.Quantization;
using ModelBuildTasks.Passes.Slimming;
using ModelBuildTasks.Shapes;
using Xunit.Abstractions;

namespace ModelBuildTasks.Engine.Tests;

/// <summary>
/// Every member of the export-pattern zoo (<see cref="ZooModels"/>) through what a user does with
/// it: inspect, integer quantization, network slimming, deep compression and the margin search,
/// each checked against ONNX Runtime.
/// </summary>
public class ZooTests(ITestOutputHelper output)
{
    public static TheoryData<string> Members => [.. ZooModels.Members.Keys];

    static readonly string Validation = TestPaths.FashionValidation;
    static readonly ImageDataset Calibration = DatasetLoader.Load(Validation, PreprocessSpec.Parse(null), limit: 64);

    [Theory, MemberData(nameof(Members))]
    public void Inspect_KnowsEveryOperator_AndInfersTheShapesOnnxRuntimeProduces(string member)
    {
        var model = ZooModels.Members[member]();
        var inferred = ShapeInference.Infer(model.Graph);

        Assert.Empty(inferred.Unsupported);
        var logits = inferred.Values[model.Graph.Outputs[0].Name].Shape!;
        Assert.Equal("[N,10]", logits.ToString());
        Assert.Equal([2, 10], OrtShapes.FirstOutput(OnnxExport.ToBytes(model), [2, 1, 28, 28]));
    }

    [Theory, MemberData(nameof(Members))]
    public void Quantized_EveryConvAndGemmRunsAsAnIntegerKernel_AndTheOutputStaysClose(string member)
    {
        var model = ZooModels.Members[member]();
        var gemms = model.Graph.Nodes.Count(n => n.OpType == "Gemm");

        var (qdq, _) = QdqQuantizer.Quantize(model, Calibration);
        var copies = QuantizationTests.PatchCopies(qdq); // a grey or RGB input's windows, copied in float
        var convs = qdq.Graph.Nodes.Count(n => n.OpType == "Conv") - copies; // BatchNorms no Conv feeds are depthwise Convs by now
        var quantized = OnnxExport.ToBytes(qdq);
        var ops = QuantizationTests.OptimizedOps(quantized);
        output.WriteLine(string.Join(", ", ops.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key} {kv.Value}")));

        Assert.Equal(convs, ops.GetValueOrDefault("QLinearConv"));
        Assert.Equal(gemms, ops.GetValueOrDefault("QGemm"));
        Assert.Equal(copies, ops.GetValueOrDefault("Conv"));
        Assert.DoesNotContain(ops.Keys, op => op is "FusedConv" or "Gemm" or "FusedGemm" or "BatchNormalization");
        var input = Images(8);
        var expected = Ort.Run(OnnxExport.ToBytes(model), input, [8, 1, 28, 28])["logits"];
        var actual = Ort.Run(quantized, input, [8, 1, 28, 28])["logits"];
        Assert.True(Cosine(expected, actual) > 0.98, $"cosine {Cosine(expected, actual)}");
    }

    [Theory, MemberData(nameof(Members))]
    public void Slimmed_RemovesExactlyTheChannelsThatCarryNothing_AndTheOutputIsUnchanged(string member)
    {
        // Silence every third channel group the dependency graph lets go: zero filters and biases of every conv
        // producing it (and BatchNorm scale and shift, for pre-activation DenseNet). A correct dependency graph then
        // removes exactly those channels, everywhere they are coupled, and the output does not move.
        var model = ZooModels.Members[member]();
        ShapeInference.Apply(model.Graph);
        var channels = new ChannelGraph(model.Graph);
        var elements = channels.Spaces.SelectMany(s => Enumerable.Range(0, s.Value).Select(i => (Space: s.Key, Index: i, Group: channels.Group(channels.Element(s.Key, i))))).ToList();
        var groups = elements.Where(e => !channels.IsPinned(e.Group)).Select(e => e.Group).Distinct().Order().ToList();
        var silenced = groups.Where((_, i) => i % 3 == 0).ToHashSet();
        foreach (var (space, index, _) in elements.Where(e => silenced.Contains(e.Group)))
        {
            var conv = model.Graph.Producer(space)!;
            var weights = model.Graph.Initializers[conv.Inputs[1]];
            var perFilter = (int)(weights.ElementCount / weights.Dims[0]);
            weights.Floats.Slice(index * perFilter, perFilter).Clear();
            if (conv.Input(2) is { } bias) model.Graph.Initializers[bias].Floats[index] = 0;
        }
        foreach (var bn in model.Graph.Nodes.Where(n => n.OpType == "BatchNormalization"))
        {
            var ids = channels.CompositionOf(bn.Inputs[0])!;
            for (var p = 0; p < ids.Length; p++)
                if (silenced.Contains(channels.Group(ids[p])))
                    model.Graph.Initializers[bn.Inputs[1]].Floats[p] = model.Graph.Initializers[bn.Inputs[2]].Floats[p] = 0;
        }
        var silencedChannels = elements.Count(e => silenced.Contains(e.Group));
        var prunable = elements.Count(e => !channels.IsPinned(e.Group));
        Assert.True(silencedChannels > 0, "nothing to remove");
        output.WriteLine($"{silencedChannels} of {prunable} prunable channels silenced; pinned: {string.Join("; ", channels.PinReasons)}");
        var input = Images(8);
        var expected = Ort.Run(OnnxExport.ToBytes(model), input, [8, 1, 28, 28])["logits"];

        var report = NetworkSlimming.Apply(model, (double)silencedChannels / prunable, NetworkSlimming.Measure(model, Calibration), channelMultiple: 1);

        Assert.Equal(report.ChannelsBefore - silencedChannels, report.ChannelsAfter);
        var actual = Ort.Run(OnnxExport.ToBytes(model), input, [8, 1, 28, 28])["logits"];
        Assert.Equal(expected.Length, actual.Length);
        Assert.True(Ort.MaxDifference(expected, actual) < 1e-4f * (1 + expected.Max(Math.Abs)), $"max difference {Ort.MaxDifference(expected, actual)}");
    }

    [Theory, MemberData(nameof(Members))]
    public void AllThreeMethods_GiveAContainerThatDecodesAndRuns_SparseAndSmaller(string member)
    {
        using var temp = new TestPaths.TempFolder();
        var path = temp.File($"{member}.onnx");
        ModelFile.Save(ZooModels.Members[member](), path);
        var settings = new CompressionSettings
        {
            Search = SearchKind.Fixed, Bits = 5, NsRatio = 0.2, DcRatio = 0.5, TargetAccuracy = 0, Metric = Metric.Agreement, MaxValidationImages = 64,
        };

        var (container, report) = Compressor.Run(path, Validation, null, settings);

        Assert.True(report.Ratio > 2, $"ratio {report.Ratio}"); // models of a few thousand weights: the graph and scales weigh
        var decoded = ContainerPackaging.ToOnnx(container);
        var logits = Ort.Run(decoded, Images(4), [4, 1, 28, 28])["logits"];
        Assert.Equal(40, logits.Length);
        Assert.All(logits, v => Assert.True(float.IsFinite(v)));
        var weights = ModelBuildTasks.Onnx.OnnxModelFile.Parse(decoded).Graph.Initializer.Where(t => t.DataType == (int)Onnx.Proto.TensorProto.Types.DataType.Int8 && t.Dims.Count > 1).ToList();
        var zeros = weights.Sum(t => t.RawData.Count(b => b == 0));
        Assert.True(zeros > 0.4 * weights.Sum(t => t.RawData.Length), $"{zeros} zeros of {weights.Sum(t => t.RawData.Length)} int8 weights");
        Assert.True(report.Channels.Sum(c => c.Kept) < report.Channels.Sum(c => c.Of), "network slimming removed nothing");
    }

    [Theory]
    [InlineData("tf_nhwc_convnet", true)]
    [InlineData("vgg_no_bn", false)]
    public void AModelEndingInSoftmax_GivesItsOwnProbabilities_NotASoftmaxOfThem(string member, bool endsInSoftmax)
    {
        using var temp = new TestPaths.TempFolder();
        var path = temp.File($"{member}.onnx");
        ModelFile.Save(ZooModels.Members[member](), path);
        var settings = new CompressionSettings { Search = SearchKind.Fixed, Methods = ["iq"], Bits = 7, TargetAccuracy = 0, Metric = Metric.Agreement, MaxValidationImages = 64 };
        var (container, _) = Compressor.Run(path, Validation, null, settings);

        using var model = Runtime.CompressedModel.Load(container);
        Assert.Equal(endsInSoftmax, model.Metadata.OutputProbabilities);
        var image = Images(1);
        var outputs = model.Logits(image);
        var probabilities = model.Probabilities(image);
        Assert.InRange(probabilities.Sum(), 0.999f, 1.001f);
        // Softmax of probabilities would flatten them towards 1/10: a second softmax is never applied.
        Assert.Equal(endsInSoftmax, outputs.SequenceEqual(probabilities));
        var top = model.Predict(image);
        Assert.Equal(probabilities.Max(), top.Score);
        Assert.Equal(top, model.TopK(image, 3)[0]);
    }

    [Fact]
    public void AModelEndingInSigmoid_GivesItsOwnPerClassProbabilities()
    {
        // A multi-label model's Sigmoid gives each class its own probability; a softmax of them made 0.9 and 0.8 into 0.52 and 0.48.
        using var temp = new TestPaths.TempFolder();
        var path = temp.File("sigmoid.onnx");
        ModelFile.Save(TestModels.EndingInSigmoid(), path);
        var settings = new CompressionSettings { Search = SearchKind.Fixed, Methods = ["iq"], Bits = 7, TargetAccuracy = 0, Metric = Metric.Agreement, MaxValidationImages = 64 };
        var (container, _) = Compressor.Run(path, Validation, null, settings);

        using var model = Runtime.CompressedModel.Load(container);
        Assert.True(model.Metadata.OutputProbabilities);
        var image = Images(1);
        var outputs = model.Logits(image);
        Assert.All(outputs, v => Assert.InRange(v, 0f, 1f));
        Assert.Equal(outputs, model.Probabilities(image));
        Assert.Equal(outputs.Max(), model.Predict(image).Score);
    }

    [Theory, MemberData(nameof(Members))]
    public void TheMarginSearch_MeetsItsTarget(string member)
    {
        using var temp = new TestPaths.TempFolder();
        var path = temp.File($"{member}.onnx");
        ModelFile.Save(ZooModels.Members[member](), path);
        // Untrained weights have no accuracy to keep; top-1 agreement with the original is the contract here.
        var settings = new CompressionSettings { Metric = Metric.Agreement, MaxAccuracyDrop = 10, MaxValidationImages = 200, Resolution = 0.25 };

        var (container, report) = Compressor.Run(path, Validation, null, settings);

        output.WriteLine($"{report.Ratio:0.00}x, agreement {report.FinalAccuracy:0.000} (target {report.TargetAccuracy:0.000}), {string.Join(" ", report.Chosen.Select(kv => $"{kv.Key}={kv.Value}"))}");
        Assert.True(report.TargetMet);
        Assert.True(report.FinalAccuracyBound >= report.TargetAccuracy);
        Assert.True(report.Ratio > 1.5, $"ratio {report.Ratio}");
        Assert.Equal(40, Ort.Run(ContainerPackaging.ToOnnx(container), Images(4), [4, 1, 28, 28])["logits"].Length);
    }

    static float[] Images(int count)
    {
        var images = new float[count * Calibration.ImageSize];
        Calibration.CopyImages(0, count, images);
        return images;
    }

    static double Cosine(float[] a, float[] b) =>
        a.Zip(b, (x, y) => (double)x * y).Sum() / Math.Sqrt(a.Sum(x => (double)x * x) * b.Sum(y => (double)y * y));
}

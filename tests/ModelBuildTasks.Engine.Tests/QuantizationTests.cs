using Microsoft.ML.OnnxRuntime;
using ModelBuildTasks.Data;
using ModelBuildTasks.Evaluation;
using ModelBuildTasks.Graph;
using ModelBuildTasks.Passes.Quantization;
using Xunit.Abstractions;

namespace ModelBuildTasks.Engine.Tests;

public class QuantizationTests(ITestOutputHelper output)
{
    static readonly ImageDataset Calibration = DatasetSplit.Sample(DatasetLoader.Load(TestPaths.FashionTrain), 256, seed: 1);

    /// <summary>The op types of the graph ONNX Runtime actually runs, read back from its optimized-model dump.</summary>
    internal static Dictionary<string, int> OptimizedOps(byte[] model)
    {
        var path = Path.Combine(Path.GetTempPath(), $"mbt-optimized-{Guid.NewGuid():N}.onnx");
        try
        {
            using (var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, OptimizedModelFilePath = path })
            using (new InferenceSession(model, options)) { }
            return Onnx.OnnxModelFile.Parse(File.ReadAllBytes(path)).Graph.Node.GroupBy(n => n.OpType).ToDictionary(g => g.Key, g => g.Count());
        }
        finally { File.Delete(path); }
    }

    /// <summary>How many float Convs of a quantized graph copy its input into patches (<see cref="InputPatches"/>): the float Convs meant to stay.</summary>
    internal static int PatchCopies(OnnxModel model) => model.Graph.Nodes.Count(n => InputPatches.IsPatchCopy(model.Graph, n));

    [Theory]
    [InlineData("plain")]
    [InlineData("residual")]
    [InlineData("dense")]
    public void EveryConvFusesToQLinearConv_EveryGemmToQGemm_AndEveryAddToQLinearAdd(string family)
    {
        var model = family switch { "plain" => TestModels.Plain(), "residual" => TestModels.Residual(), _ => TestModels.Dense() };
        var convs = model.Graph.Nodes.Count(n => n.OpType == "Conv");
        // A BatchNorm that cannot fold into a Conv (the dense family's pre-activation) becomes a depthwise Conv of its own.
        var unfoldable = model.Graph.Nodes.Count(n => n.OpType == "BatchNormalization") - QdqQuantizer.Folded(model).FoldedBatchNorms;
        // An average pool over tiling windows runs as a depthwise Conv too (AveragePoolAsDepthwiseConv).
        unfoldable += model.Graph.Nodes.Count(n => n.OpType == "AveragePool" && n.GetInts("kernel_shape") is { } k && n.GetInts("strides") is { } s && k.SequenceEqual(s));
        var gemms = model.Graph.Nodes.Count(n => n.OpType == "Gemm");
        var adds = model.Graph.Nodes.Count(n => n.OpType == "Add");

        var (quantized, report) = QdqQuantizer.Quantize(model, Calibration);
        var ops = OptimizedOps(OnnxExport.ToBytes(quantized));
        output.WriteLine(string.Join(", ", ops.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key} {kv.Value}")));

        Assert.Equal(convs + unfoldable, ops.GetValueOrDefault("QLinearConv"));
        Assert.Equal(1, PatchCopies(quantized)); // the grey input's windows
        Assert.Equal(1, ops.GetValueOrDefault("Conv")); // that copy, and no other float Conv
        Assert.False(ops.ContainsKey("BatchNormalization"), "a float BatchNorm is left");
        // A float Gemm would dequantize its whole weight matrix on every run (it did, when its weights had no zero-point input).
        Assert.Equal(gemms, ops.GetValueOrDefault("QGemm"));
        Assert.False(ops.ContainsKey("Gemm"), "a float Gemm is left");
        Assert.Equal(adds, ops.GetValueOrDefault("QLinearAdd"));
        Assert.Equal(convs + unfoldable + 1, report.QuantizedWeights); // every Conv, every BatchNorm made one, and the classifier's Gemm
        // The classifier's Gemm gives float logits itself: nothing is dequantized on the way out.
        Assert.False(ops.ContainsKey("DequantizeLinear"), "a DequantizeLinear is left");
    }

    [Theory]
    [InlineData("MatMul")]
    [InlineData("Gemm")]
    public void AClassifierHead_BeforeASoftmax_RunsOnIntegers_WithAFloatResult(string head)
    {
        var b = new GraphBuilder("head", seed: 3);
        var x = b.Flatten(b.Relu(b.Conv(b.Input("input", 1, 28, 28), 8, stride: 2)));
        var random = new Random(5);
        var w = b.Initializer("w", head == "Gemm" ? [10, 8 * 14 * 14] : [8 * 14 * 14, 10], Enumerable.Range(0, 8 * 14 * 14 * 10).Select(_ => (float)(random.NextDouble() - 0.5) * 0.05f).ToArray());
        var logits = head == "Gemm" ? b.Add("Gemm", [x, w], ("transB", NodeAttribute.Of(1L))) : b.Add("MatMul", [x, w]);
        b.Output(b.Add("Softmax", [logits], ("axis", NodeAttribute.Of(1L))), "probabilities");
        var model = b.Build();

        var (quantized, _) = QdqQuantizer.Quantize(model, Calibration);
        var ops = QuantizationTests.OptimizedOps(OnnxExport.ToBytes(quantized));
        output.WriteLine(string.Join(", ", ops.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key} {kv.Value}")));

        Assert.True(ops.ContainsKey(head == "Gemm" ? "QGemm" : "MatMulIntegerToFloat"), string.Join(", ", ops.Keys));
        Assert.False(ops.ContainsKey("DequantizeLinear") || ops.ContainsKey(head), string.Join(", ", ops.Keys));
        var input = TestModels.RandomInput(6, 8, 1, 28, 28);
        var expected = Ort.Run(OnnxExport.ToBytes(model), input, [8, 1, 28, 28]).Values.Single();
        var actual = Ort.Run(OnnxExport.ToBytes(quantized), input, [8, 1, 28, 28]).Values.Single();
        Assert.True(Ort.MaxDifference(expected, actual) < 0.05f, $"max difference {Ort.MaxDifference(expected, actual)} in probabilities");
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 3)]
    public void AGreyOrRgbInput_IsCopiedIntoPatches_ForOneByOneIntegerConvolutions_WithExactlyTheSameOutputs(int stride, int channels)
    {
        var b = new GraphBuilder("first", seed: 2);
        var x = b.Flatten(b.Relu(b.Conv(b.Relu(b.Conv(b.Input("input", channels, 28, 28), 16, stride: stride)), 16)));
        b.Output(b.Add("Gemm", [x, b.Initializer("w", [10, 16 * (28 / stride) * (28 / stride)], TestModels.RandomInput(3, 160, 28 / stride, 28 / stride))], ("transB", NodeAttribute.Of(1L))), "logits");
        var (quantized, _) = QdqQuantizer.Quantize(b.Build(), RandomImages(channels));
        var graph = quantized.Graph;
        var copy = Assert.Single(graph.Nodes, n => n.OpType == "Conv" && n.Inputs[0] == graph.Inputs[0].Name);
        var first = graph.Consumers(graph.Consumers(graph.Consumers(copy.Outputs[0]).Single().Outputs[0]).Single().Outputs[0]).Single();
        var weights = graph.FindInitializer(graph.Producer(first.Inputs[1])!.Inputs[0])!;
        var values = channels * 9;
        Assert.Equal([16, values + (4 - values % 4) % 4, 1, 1], weights.Dims);
        Assert.Equal([1L, 1L], first.GetInts("kernel_shape"));
        Assert.Equal([stride, stride], copy.GetInts("strides"));
        var patched = OnnxExport.ToBytes(quantized);
        Assert.Equal(2, OptimizedOps(patched).GetValueOrDefault("QLinearConv"));

        // The graph without the patches, on the same weights: the 3x3 convolution the int8 kernel ran before.
        graph.Consumers(copy.Outputs[0]).Single().Inputs[0] = copy.Inputs[0];
        graph.Nodes.Remove(copy);
        foreach (var name in new[] { "kernel_shape", "strides", "pads" }) first.Attributes[name] = copy.Attributes[name];
        var width = (int)weights.Dims[1];
        var original = new byte[16 * values];
        for (var o = 0; o < 16; o++)
        {
            Assert.All(weights.Data.Skip(o * width + values).Take(width - values), w => Assert.Equal(0, w)); // the padding channels' weights
            Array.Copy(weights.Data, o * width, original, o * values, values);
        }
        graph.Initializers[weights.Name] = new Tensor(weights.Name, ElementType.Int8, [16, channels, 3, 3], original);
        var input = TestModels.RandomInput(4, 16 * channels, 28, 28);
        var expected = Ort.Run(OnnxExport.ToBytes(quantized), input, [16, channels, 28, 28]).Values.Single();
        var actual = Ort.Run(patched, input, [16, channels, 28, 28]).Values.Single();
        output.WriteLine($"max difference {Ort.MaxDifference(expected, actual)} of outputs up to {expected.Max(MathF.Abs)}");
        Assert.Equal(expected, actual);
    }

    // 64 random images of `channels` x 28 x 28 to calibrate on.
    static ImageDataset RandomImages(int channels) => new(TestModels.RandomInput(9, 64 * channels, 28, 28), 64, channels, 28, 28, labels: null);

    [Fact]
    public void AnRgbInput_UnderAWindowTooLargeForPatches_IsPaddedToFourChannels_WithExactlyTheSameOutputs()
    {
        var b = new GraphBuilder("stem", seed: 2);
        var x = b.Flatten(b.Relu(b.Conv(b.Input("input", 3, 28, 28), 16, kernel: 5, stride: 2)));
        b.Output(b.Add("Gemm", [x, b.Initializer("w", [10, 16 * 14 * 14], TestModels.RandomInput(3, 160, 14, 14))], ("transB", NodeAttribute.Of(1L))), "logits");
        var (quantized, _) = QdqQuantizer.Quantize(b.Build(), RandomImages(3));
        var graph = quantized.Graph;
        var pad = Assert.Single(graph.Nodes, n => n.OpType == "Pad");
        Assert.Equal(graph.Inputs[0].Name, pad.Inputs[0]);
        var first = graph.Nodes.First(n => n.OpType == "Conv");
        var weights = graph.FindInitializer(graph.Producer(first.Inputs[1])!.Inputs[0])!;
        Assert.Equal([16, 4, 5, 5], weights.Dims);
        var padded = OnnxExport.ToBytes(quantized);
        Assert.Equal(1, OptimizedOps(padded).GetValueOrDefault("QLinearConv"));

        graph.Consumers(pad.Outputs[0]).Single().Inputs[0] = pad.Inputs[0];
        graph.Nodes.Remove(pad);
        var original = new byte[16 * 75];
        for (var o = 0; o < 16; o++)
        {
            Assert.All(weights.Data.Skip(o * 100 + 75).Take(25), w => Assert.Equal(0, w)); // the added channel's weights
            Array.Copy(weights.Data, o * 100, original, o * 75, 75);
        }
        graph.Initializers[weights.Name] = new Tensor(weights.Name, ElementType.Int8, [16, 3, 5, 5], original);
        var input = TestModels.RandomInput(4, 16 * 3, 28, 28);
        Assert.Equal(Ort.Run(OnnxExport.ToBytes(quantized), input, [16, 3, 28, 28]).Values.Single(), Ort.Run(padded, input, [16, 3, 28, 28]).Values.Single());
    }

    [Fact]
    public void ALayerKeptFloat_StaysFloatInOnnxRuntime_WhileTheOthersFuse()
    {
        // ONNX Runtime quantizes (per tensor) the float weights of a layer fed by a DequantizeLinear: a layer kept
        // float must read the unquantized value, or the runtime undoes the choice.
        var model = TestModels.Plain();
        var second = model.Graph.Nodes.Where(n => n.OpType == "Conv").ElementAt(1).Inputs[1];

        var (quantized, report) = QdqQuantizer.Quantize(model, Calibration, new QuantizationOptions { KeepFloat = new HashSet<string> { second } });
        var ops = OptimizedOps(OnnxExport.ToBytes(quantized));
        output.WriteLine(string.Join(", ", ops.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key} {kv.Value}")));

        Assert.Equal(2, report.QuantizedWeights); // the first conv and the classifier
        // The kept conv runs float; so does the conv feeding it through ReLU and pooling (on its integer-grid weights),
        // whose output is no longer quantized: a fusion needs a QuantizeLinear as the output's only reader.
        Assert.Equal(2 + PatchCopies(quantized), ops.GetValueOrDefault("Conv") + ops.GetValueOrDefault("FusedConv"));
        Assert.False(ops.ContainsKey("QLinearConv"), "the kept conv was fused (its weights quantized by ONNX Runtime)");
        Assert.True(quantized.Graph.Initializers.ContainsKey(second), "the kept layer's float weights are gone");
        Assert.Equal(1, ops.GetValueOrDefault("QGemm"));
    }

    [Fact]
    public void ThirdPartyResNet18_FullyFuses_AndStaysClose()
    {
        var model = ModelFile.Load(TestPaths.ResNet18);
        var images = DatasetSplit.Sample(DatasetLoader.Load(TestPaths.FashionTest, PreprocessSpec.Parse("resize=224x224;channels=3"), limit: 40), 16, seed: 1);
        var (quantized, _) = QdqQuantizer.Quantize(model, images);
        var bytes = OnnxExport.ToBytes(quantized);
        var ops = OptimizedOps(bytes);
        output.WriteLine(string.Join(", ", ops.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key} {kv.Value}")));
        Assert.Equal(22, ops.GetValueOrDefault("QLinearConv"));
        Assert.Equal(9, ops.GetValueOrDefault("QLinearAdd"));
        Assert.InRange(bytes.Length, 14_000_000, 17_000_000); // int8 weights: about a quarter of 63.6 MB

        var input = images.Image(0).ToArray();
        var expected = Ort.Run(File.ReadAllBytes(TestPaths.ResNet18), input, [1, 3, 224, 224]).Values.Single();
        var actual = Ort.Run(bytes, input, [1, 3, 224, 224]).Values.Single();
        var cosine = expected.Zip(actual, (a, b) => (double)a * b).Sum() / Math.Sqrt(expected.Sum(a => (double)a * a) * actual.Sum(b => (double)b * b));
        // On the portable 7-bit grid (8-bit weights gave > 0.99 here, but only on CPUs with VNNI): 0.973
        // on this Fashion-MNIST image, far from ResNet-18's ImageNet training data.
        Assert.True(cosine > 0.95, $"cosine similarity {cosine}");
    }

    [Theory]
    [InlineData(7)]
    [InlineData(4)]
    public void WeightsUseOnlyTheLevelsOfTheirBits(int bits)
    {
        var (quantized, _) = QdqQuantizer.Quantize(TestModels.Plain(), Calibration, new QuantizationOptions { Bits = bits });
        var qmax = (1 << (bits - 1)) - 1;
        var int8 = quantized.Graph.Initializers.Values.Where(t => t.Type == ElementType.Int8 && t.Dims.Length > 1).ToList();
        Assert.NotEmpty(int8);
        foreach (var t in int8)
        {
            var values = t.Data.Select(b => (int)(sbyte)b).ToArray();
            Assert.InRange(values.Min(), -qmax, 0);
            Assert.Equal(qmax, values.Max(Math.Abs)); // the largest weight of some channel maps to qmax
        }
    }

    [Theory]
    [InlineData(CalibrationMethod.MinMax)]
    [InlineData(CalibrationMethod.Percentile)]
    public void QuantizedModel_AgreesWithTheFloatModel(CalibrationMethod method)
    {
        var model = TestModels.Plain();
        var (quantized, _) = QdqQuantizer.Quantize(model, Calibration, new QuantizationOptions { Calibration = method });
        var test = DatasetLoader.Load(TestPaths.FashionTest, limit: 500);
        var agreement = Evaluator.Evaluate(OnnxExport.ToBytes(quantized), new ImageDataset(test.Pixels, test.Count, 1, 28, 28, null), referenceOnnx: OnnxExport.ToBytes(model), latencySamples: 0);
        Assert.True(agreement.Accuracy > 0.9, $"top-1 agreement {agreement.Accuracy:P1}");
    }

    [Fact]
    public void PerChannelWeights_RoundTripWithinHalfAStep()
    {
        var random = new Random(3);
        var w = Enumerable.Range(0, 600).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        var (q, s) = WeightQuantization.PerChannel(w, [2, 300], axis: 0, bits: 8);
        for (var c = 0; c < 2; c++) Assert.Equal(w.Skip(c * 300).Take(300).Max(Math.Abs) / 127, s[c], 6);
        for (var i = 0; i < w.Length; i++) Assert.True(Math.Abs(q[i] * s[i / 300] - w[i]) <= s[i / 300] / 2 + 1e-7);
    }

    [Fact]
    public void WeightsAlreadyOnACoarserGrid_KeepIt_SoQuantizingAgainDoesNotRoundTwice()
    {
        // A channel IQ snapped at 5 bits (step 0.01, qmax 15) whose largest weight slimming then removed: 10 steps remain.
        float[] snapped = [0.03f, -0.07f, 0.1f, 0f];
        var (q, s) = WeightQuantization.PerChannel(snapped, [1, 4], axis: 0, bits: 5);
        Assert.Equal(0.01f, s[0], 6);
        Assert.Equal([3, -7, 10, 0], q.Select(v => (int)v));
        // The same after BatchNorm folding scaled the channel by -1.7: the grid scales with it.
        var (qf, sf) = WeightQuantization.PerChannel(snapped.Select(v => v * -1.7f).ToArray(), [1, 4], axis: 0, bits: 5);
        Assert.Equal(0.017f, sf[0], 6);
        Assert.Equal([-3, 7, -10, 0], qf.Select(v => (int)v));
    }
}

using ModelBuildTasks.Data;
using ModelBuildTasks.Graph;
using ModelBuildTasks.Passes;
using ModelBuildTasks.Passes.Quantization;

namespace ModelBuildTasks.Engine.Tests;

public class ChannelPaddingTests
{
    // What the quantizer pads: the folded graph, pre-activation BatchNorms as depthwise convolutions.
    static OnnxModel Prepared(OnnxModel model)
    {
        var (folded, _) = QdqQuantizer.Folded(model);
        BatchNormAsDepthwiseConv.Apply(folded.Graph);
        return folded;
    }

    [Fact]
    public void TheDenseNetSample_GetsKernelFriendlyChannelCounts_AndComputesExactlyWhatItDid()
    {
        // Growth rate 12 and a 24-channel stem: 12-output convolutions and depthwise BatchNorms over 36, 60, 84 channels.
        var model = Prepared(ModelFile.Load(Path.Combine(TestPaths.RepoRoot, "samples/models/fashion_densenet.onnx")));
        var input = TestModels.RandomInput(5, 8, 1, 28, 28);
        var expected = Ort.Run(OnnxExport.ToBytes(model), input, [8, 1, 28, 28]).Values.Single();

        var padded = ChannelPadding.Apply(model.Graph);

        Assert.True(padded > 0);
        foreach (var conv in model.Graph.Nodes.Where(n => n.OpType == "Conv"))
        {
            var w = model.Graph.FindInitializer(conv.Inputs[1])!;
            if (conv.GetInt("group", 1) > 1) Assert.True(w.Dims[0] % 16 == 0, $"{conv} is depthwise over {w.Dims[0]} channels");
            else
            {
                Assert.True(w.Dims[0] >= 16 && w.Dims[0] % 8 == 0, $"{conv} has {w.Dims[0]} outputs");
                Assert.True(w.Dims[1] % 4 == 0 || w.Dims[1] == 1, $"{conv} has {w.Dims[1]} inputs"); // the grey input is InputPatches'
            }
        }
        var actual = Ort.Run(OnnxExport.ToBytes(model), input, [8, 1, 28, 28]).Values.Single();
        Assert.True(Ort.MaxDifference(expected, actual) < 1e-4f * expected.Max(MathF.Abs), $"max difference {Ort.MaxDifference(expected, actual)}");
    }

    [Fact]
    public void ChannelsCoupledByAResidualAdd_OrLeavingTheGraph_AreNotPadded()
    {
        var b = new GraphBuilder("coupled");
        var x = b.Relu(b.Conv(b.Input("input", 1, 12, 12), 12));
        var y = b.Conv(b.Relu(b.Conv(x, 12)), 12);
        x = b.Relu(b.Sum(x, y)); // couples the first and the third convolution
        var z = b.Conv(x, 12); // feeds the graph output directly
        b.Output(z, "features");
        var model = Prepared(b.Build());

        // The second convolution is free to grow: its 12 outputs feed only the third one.
        Assert.Equal(1, ChannelPadding.Apply(model.Graph));

        var convs = model.Graph.Nodes.Where(n => n.OpType == "Conv").Select(n => model.Graph.FindInitializer(n.Inputs[1])!.Dims).ToList();
        Assert.Equal([12, 1, 3, 3], convs[0]);
        Assert.Equal([16, 12, 3, 3], convs[1]);
        Assert.Equal([12, 16, 3, 3], convs[2]);
        Assert.Equal([12, 12, 3, 3], convs[3]);
    }

    [Fact]
    public void AQuantizedDenseNet_RunsEveryConvolutionOnTheIntegerKernels_WithTheSamePredictions()
    {
        var model = ModelFile.Load(Path.Combine(TestPaths.RepoRoot, "samples/models/fashion_densenet.onnx"));
        var calibration = DatasetSplit.Sample(DatasetLoader.Load(TestPaths.FashionTrain), 128, seed: 2);
        var padded = QdqQuantizer.Quantize(model, calibration).Model;
        var plain = QdqQuantizer.Quantize(model, calibration, new QuantizationOptions { PadChannels = false }).Model;
        Assert.True(padded.Graph.Initializers.Values.Sum(t => t.ElementCount) > plain.Graph.Initializers.Values.Sum(t => t.ElementCount));

        var ops = QuantizationTests.OptimizedOps(OnnxExport.ToBytes(padded));
        Assert.Equal(QuantizationTests.PatchCopies(padded), ops.GetValueOrDefault("Conv")); // only the input's patch copy stays float

        var images = DatasetSplit.Sample(DatasetLoader.Load(TestPaths.FashionTest), 64, seed: 3);
        var shape = new long[] { 64, 1, 28, 28 };
        var expected = Ort.Run(OnnxExport.ToBytes(plain), images.Pixels, shape).Values.Single();
        var actual = Ort.Run(OnnxExport.ToBytes(padded), images.Pixels, shape).Values.Single();
        // Zero channels add exact zeros to every integer sum. What differs is the kernel: padded, a layer runs MLAS's
        // symmetric convolution instead of im2col and a separate requantization, and the two round an exact tie (an
        // average pool's quarter steps) apart by one step, which the next layers carry along.
        Assert.True(Ort.MaxDifference(expected, actual) <= 0.02f * expected.Max(MathF.Abs), $"max difference {Ort.MaxDifference(expected, actual)}");
        Assert.Equal(Top1(expected), Top1(actual));

        static int[] Top1(float[] logits) => [.. logits.Chunk(10).Select(row => Array.IndexOf(row, row.Max()))];
    }
}

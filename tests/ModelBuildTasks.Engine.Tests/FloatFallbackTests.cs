using ModelBuildTasks.Compression;
using ModelBuildTasks.Data;
using ModelBuildTasks.Evaluation;
using ModelBuildTasks.Graph;
using ModelBuildTasks.Passes.Quantization;

namespace ModelBuildTasks.Engine.Tests;

/// <summary>When no uniform grid keeps the accuracy, the costliest layers stay float (issue 13, scope 5).</summary>
public class FloatFallbackTests(Xunit.Abstractions.ITestOutputHelper output)
{
    static readonly string Validation = TestPaths.FashionValidation;

    // The VGG sample with a second conv that cannot live on a per-channel grid: each of its filters gets one
    // weight a thousand times the others, on an input channel that is always zero (the first conv's channel 0,
    // whose ReLU never opens). In float that weight does nothing; on the grid it sets the step, and every
    // other weight of the filter rounds to zero.
    static OnnxModel OneUnquantizableLayer()
    {
        var model = ModelFile.Load(Path.Combine(TestPaths.RepoRoot, "samples/models/fashion_vgg.onnx"));
        Passes.BatchNormFolding.Apply(model.Graph);
        var convs = model.Graph.Nodes.Where(n => n.OpType == "Conv").ToList();
        model.Graph.Initializers[convs[0].Inputs[2]].Floats[0] = -1000;
        var w = model.Graph.Initializers[convs[1].Inputs[1]];
        var perFilter = (int)(w.ElementCount / w.Dims[0]);
        var kernel = (int)(w.Dims[2] * w.Dims[3]);
        var typical = w.Floats.ToArray().Average(Math.Abs);
        for (var f = 0; f < w.Dims[0]; f++) w.Floats[f * perFilter + kernel / 2] = 1000 * typical; // input channel 0, kernel centre
        return model;
    }

    static string SecondConvWeights => OneUnquantizableLayer().Graph.Nodes.Where(n => n.OpType == "Conv").ElementAt(1).Inputs[1];

    [Fact]
    public void TheLayerWhoseGridCannotHoldItsWeights_RanksCostliest()
    {
        var model = OneUnquantizableLayer();
        var images = DatasetLoader.Load(Validation, PreprocessSpec.Parse(null), limit: 64);

        var ranked = LayerSensitivity.Rank(model, images, bits: 7);

        var second = SecondConvWeights;
        Assert.Equal(8, ranked.Count); // six convs and two fully connected layers
        Assert.Equal(second, ranked[0]);
    }

    [Fact]
    public void WhenNoGridKeepsTheTarget_TheSearchLeavesTheCostliestLayerFloat_AndMeetsIt()
    {
        using var temp = new TestPaths.TempFolder();
        var path = temp.File("m.onnx");
        ModelFile.Save(OneUnquantizableLayer(), path);
        var settings = new CompressionSettings { Methods = ["iq"], MaxValidationImages = 500 };

        var (_, report) = Compressor.Run(path, Validation, null, settings);
        foreach (var c in report.Candidates) output.WriteLine($"{c.Description}: {c.Accuracy:0.000} (bound {c.Bound:0.000})");

        Assert.True(report.TargetMet, $"agreement bound {report.FinalAccuracyBound} against {report.TargetAccuracy}");
        Assert.Equal("1", report.Chosen["float_layers"]);
        output.WriteLine(string.Join(" ", report.Chosen.Select(kv => $"{kv.Key}={kv.Value}")));
        Assert.Equal(SecondConvWeights, report.Chosen["float_layer_weights"]);
        Assert.Contains("float_layers=1", report.Stages.Single().Chosen);
        // Every uniform grid missed: the fallback was needed, not merely taken.
        Assert.All(report.Candidates.Where(c => !c.Description.Contains("float=")), c => Assert.True(c.Bound < report.TargetAccuracy, c.Description));
    }

    [Fact]
    public void BeforeLaterStages_TheFallbackKeepsAsFewLayersFloatAsMeetTheFinalTarget_AndTheSummarySaysSo()
    {
        // IQ's stage target keeps a reserve for DC; float layers bought for that reserve would cost more than DC saves.
        using var temp = new TestPaths.TempFolder();
        var path = temp.File("m.onnx");
        ModelFile.Save(OneUnquantizableLayer(), path);
        var settings = new CompressionSettings { Methods = ["iq", "dc"], MaxValidationImages = 500 };

        var (_, report) = Compressor.Run(path, Validation, null, settings);
        foreach (var c in report.Candidates) output.WriteLine($"{c.Description}: {c.Accuracy:0.000} (bound {c.Bound:0.000})");

        Assert.True(report.TargetMet);
        Assert.Equal("1", report.Chosen["float_layers"]);
        var iq = report.Stages[0];
        Assert.Contains("float_layers=1", iq.Chosen);
        Assert.Equal(report.TargetAccuracy, iq.Target, 6); // held to the final target, as the summary shows
        Assert.True(iq.Bound >= iq.Target);
    }
}

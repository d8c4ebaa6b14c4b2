using ModelBuildTasks.Graph;
using ModelBuildTasks.Passes.Slimming;
using ModelBuildTasks.Shapes;

namespace ModelBuildTasks.Engine.Tests;

public class NetworkSlimmingTests
{
    static OnnxModel Family(string name) => name switch { "plain" => TestModels.Plain(), "residual" => TestModels.Residual(), _ => TestModels.Dense() };

    [Theory]
    [InlineData("plain")]
    [InlineData("residual")]
    [InlineData("dense")]
    public void RemovingOnlyZeroGammaChannels_KeepsTheOutputsIdentical(string family)
    {
        var model = Family(family);
        ShapeInference.Apply(model.Graph);
        var channels = new ChannelGraph(model.Graph);
        // Silence every third prunable group: gamma and beta 0 in every BatchNorm that sees it.
        var groups = channels.Spaces.SelectMany(s => Enumerable.Range(0, s.Value).Select(i => channels.Group(channels.Element(s.Key, i))))
            .Where(g => !channels.IsPinned(g)).Distinct().Order().ToList();
        var silenced = groups.Where((_, i) => i % 3 == 0).ToHashSet();
        foreach (var bn in model.Graph.Nodes.Where(n => n.OpType == "BatchNormalization"))
        {
            var ids = channels.CompositionOf(bn.Inputs[0])!;
            for (var p = 0; p < ids.Length; p++)
                if (silenced.Contains(channels.Group(ids[p])))
                {
                    model.Graph.Initializers[bn.Inputs[1]].Floats[p] = 0;
                    model.Graph.Initializers[bn.Inputs[2]].Floats[p] = 0;
                }
        }
        var silencedChannels = channels.Spaces.Sum(s => Enumerable.Range(0, s.Value).Count(i => silenced.Contains(channels.Group(channels.Element(s.Key, i)))));
        Assert.True(silencedChannels > 0);
        var prunable = channels.Spaces.Sum(s => Enumerable.Range(0, s.Value).Count(i => !channels.IsPinned(channels.Element(s.Key, i))));
        var input = TestModels.RandomInput(9, 4, 1, 28, 28);
        var expected = Ort.Run(OnnxExport.ToBytes(model), input, [4, 1, 28, 28])["logits"];

        var report = NetworkSlimming.Apply(model, (double)silencedChannels / prunable);

        Assert.Equal(report.ChannelsBefore - silencedChannels, report.ChannelsAfter);
        Assert.True(report.ParametersAfter < report.ParametersBefore);
        var actual = Ort.Run(OnnxExport.ToBytes(model), input, [4, 1, 28, 28])["logits"];
        Assert.True(Ort.MaxDifference(expected, actual) < 1e-4f, $"max difference {Ort.MaxDifference(expected, actual)}");
    }

    [Theory]
    [InlineData("plain")]
    [InlineData("residual")]
    [InlineData("dense")]
    public void WithCalibrationImages_ConsumersBiasesTakeOverWhatRemovedChannelsCarried(string family)
    {
        // Channels with gamma 0 but beta > 0 put out a constant, relu(beta): removing them shifts every
        // consumer unless its bias takes that constant over (exactly, except where padding cut the kernel).
        OnnxModel Silenced()
        {
            var model = Family(family);
            ShapeInference.Apply(model.Graph);
            var channels = new ChannelGraph(model.Graph);
            foreach (var bn in model.Graph.Nodes.Where(n => n.OpType == "BatchNormalization"))
            {
                var ids = channels.CompositionOf(bn.Inputs[0])!;
                for (var p = 0; p < ids.Length; p += 4)
                {
                    model.Graph.Initializers[bn.Inputs[1]].Floats[p] = 0;
                    model.Graph.Initializers[bn.Inputs[2]].Floats[p] = 0.5f;
                }
            }
            return model;
        }
        var input = TestModels.RandomInput(9, 4, 1, 28, 28);
        var expected = Ort.Run(OnnxExport.ToBytes(Silenced()), input, [4, 1, 28, 28])["logits"];
        var calibration = new ModelBuildTasks.Data.ImageDataset(TestModels.RandomInput(5, 16, 1, 28, 28), 16, 1, 28, 28, null);

        var plain = Silenced();
        var plainReport = NetworkSlimming.Apply(plain, 0.15);
        var compensated = Silenced();
        var compensatedReport = NetworkSlimming.Apply(compensated, 0.15, calibration);

        Assert.Equal(plainReport.ChannelsAfter, compensatedReport.ChannelsAfter); // the same channels go; only the biases differ
        Assert.True(compensatedReport.ChannelsAfter < compensatedReport.ChannelsBefore);
        var lost = Ort.MaxDifference(expected, Ort.Run(OnnxExport.ToBytes(plain), input, [4, 1, 28, 28])["logits"]);
        var kept = Ort.MaxDifference(expected, Ort.Run(OnnxExport.ToBytes(compensated), input, [4, 1, 28, 28])["logits"]);
        Assert.True(kept < 0.5 * lost, $"without compensation {lost}, with {kept}");
    }

    [Theory]
    [InlineData("plain")]
    [InlineData("residual")]
    [InlineData("dense")]
    public void HalfTheChannels_GiveAValidSmallerModel(string family)
    {
        var model = Family(family);
        var report = NetworkSlimming.Apply(model, 0.5);
        Assert.InRange(report.ChannelsAfter, report.ChannelsBefore * 0.4, report.ChannelsBefore * 0.65);
        Assert.True(report.ParametersAfter < report.ParametersBefore * 0.8, $"{report.ParametersBefore} -> {report.ParametersAfter}");
        Assert.All(report.KeptPerLayer.Values, k => Assert.True(k.Kept >= 1));
        var output = Ort.Run(OnnxExport.ToBytes(model), TestModels.RandomInput(2, 3, 1, 28, 28), [3, 1, 28, 28])["logits"];
        Assert.Equal(30, output.Length);
    }

    [Fact]
    public void ThirdPartyResNet18_SlimsToAValidModel_AndReportsWhatItLeftAlone()
    {
        var model = ModelFile.Load(TestPaths.ResNet18);
        var report = NetworkSlimming.Apply(model, 0.3);
        Assert.True(report.ParametersAfter < report.ParametersBefore);
        Assert.Contains(report.Pinned, r => r.Contains("graph output")); // the 512 output features cannot shrink
        var output = Ort.Run(OnnxExport.ToBytes(model), TestModels.RandomInput(1, 1, 3, 224, 224), [1, 3, 224, 224]).Values.Single();
        Assert.Equal(512, output.Length);
    }

    [Fact]
    public void UnknownConsumers_PinTheirChannels()
    {
        var b = new GraphBuilder("pinned");
        var x = b.Relu(b.BatchNorm(b.Conv(b.Input("x", 1, 8, 8), 6, bias: false)));
        var y = b.Add("Softmax", [x]); // Softmax over channels: not followed by the analysis
        b.Output(y);
        var model = TestModels.RandomizeBatchNorm(b.Build(), 1);
        var report = NetworkSlimming.Apply(model, 0.5);
        Assert.Equal(report.ChannelsBefore, report.ChannelsAfter);
        Assert.Contains(report.Pinned, r => r.Contains("Softmax"));
    }
}

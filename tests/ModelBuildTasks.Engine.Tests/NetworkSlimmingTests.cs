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

        var report = NetworkSlimming.Apply(model, (double)silencedChannels / prunable, channelMultiple: 1);

        Assert.Equal(report.ChannelsBefore - silencedChannels, report.ChannelsAfter);
        Assert.True(report.ParametersAfter < report.ParametersBefore);
        var actual = Ort.Run(OnnxExport.ToBytes(model), input, [4, 1, 28, 28])["logits"];
        Assert.True(Ort.MaxDifference(expected, actual) < 1e-4f, $"max difference {Ort.MaxDifference(expected, actual)}");
    }

    [Theory]
    [InlineData(0.2)]
    [InlineData(0.45)]
    public void WhatEachConvKeeps_IsAMultipleOfEight_CloseToTheRatioAsked(double ratio)
    {
        // ONNX Runtime's fast int8 convolutions need channel counts that are multiples of 4 (8 on AVX2): the VGG
        // sample slimmed exactly keeps 62, 97 and 71 channels at 0.2, which put its layers on a 1.5-3x slower kernel.
        var model = ModelFile.Load(Path.Combine(TestPaths.RepoRoot, "samples/models/fashion_vgg.onnx"));
        var calibration = ModelBuildTasks.Data.DatasetSplit.Sample(ModelBuildTasks.Data.DatasetLoader.Load(TestPaths.FashionTrain), 128, seed: 1);
        var exact = ModelFile.Load(Path.Combine(TestPaths.RepoRoot, "samples/models/fashion_vgg.onnx"));
        var exactReport = NetworkSlimming.Apply(exact, ratio, NetworkSlimming.Measure(exact, calibration), channelMultiple: 1);

        var report = NetworkSlimming.Apply(model, ratio, NetworkSlimming.Measure(model, calibration));

        Assert.Contains(exactReport.KeptPerLayer.Values, k => k.Kept % NetworkSlimming.ChannelMultiple != 0); // else this test shows nothing
        foreach (var (layer, (kept, of)) in report.KeptPerLayer)
        {
            Assert.True(kept % NetworkSlimming.ChannelMultiple == 0 || kept == of, $"{layer} keeps {kept} of {of}");
            Assert.InRange(kept, exactReport.KeptPerLayer[layer].Kept - 4, exactReport.KeptPerLayer[layer].Kept + 4); // the nearest multiple
        }
        var input = TestModels.RandomInput(3, 2, 1, 28, 28);
        Assert.Equal(20, Ort.Run(OnnxExport.ToBytes(model), input, [2, 1, 28, 28])["logits"].Length);
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
        var plainReport = NetworkSlimming.Apply(plain, 0.15, channelMultiple: 1);
        var compensated = Silenced();
        var compensatedReport = NetworkSlimming.Apply(compensated, 0.15, NetworkSlimming.Measure(compensated, calibration), channelMultiple: 1);

        Assert.Equal(plainReport.ChannelsAfter, compensatedReport.ChannelsAfter); // as many channels go, constant ones under both rankings
        Assert.Equal((NetworkSlimming.GammaCriterion, NetworkSlimming.VarianceCriterion), (plainReport.Criterion, compensatedReport.Criterion));
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

    [Theory]
    [InlineData("Identity", false)]
    [InlineData("Dropout", false)]
    [InlineData("Relu", true)]
    public void FlattenedFeatures_PassAnIdentityToTheGemm_ButAnyOtherOpPinsThem(string between, bool pinned)
    {
        var b = new GraphBuilder("flat", seed: 3);
        var x = b.MaxPool(b.Relu(b.Conv(b.Input("input", 1, 28, 28), 8)), 4);
        var features = b.Flatten(x);
        features = between == "Dropout" ? b.Dropout(features, 0.5f) : b.Add(between, [features]);
        b.Output(b.Linear(features, 10), "logits");
        var model = b.Build();

        var report = NetworkSlimming.Apply(model, 0.5, NetworkSlimming.Measure(model, new ModelBuildTasks.Data.ImageDataset(TestModels.RandomInput(5, 8, 1, 28, 28), 8, 1, 28, 28, null)), channelMultiple: 1);

        Assert.Equal(pinned ? 8 : 4, report.ChannelsAfter);
        Assert.Equal(20, Ort.Run(OnnxExport.ToBytes(model), TestModels.RandomInput(2, 2, 1, 28, 28), [2, 1, 28, 28])["logits"].Length);
    }

    [Theory]
    [InlineData("plain")]
    [InlineData("residual")]
    [InlineData("dense")]
    public void RankedByConsumerVarianceShare_TheOutputMovesLessThanRankedByGamma(string family)
    {
        // Post-training, |gamma| says little: a channel with a large gamma may feed its consumers through
        // tiny weights. Ranking by the share of each consumer's input energy loses less of the output.
        var input = TestModels.RandomInput(9, 16, 1, 28, 28);
        var expected = Ort.Run(OnnxExport.ToBytes(Family(family)), input, [16, 1, 28, 28])["logits"];
        var calibration = new ModelBuildTasks.Data.ImageDataset(TestModels.RandomInput(5, 32, 1, 28, 28), 32, 1, 28, 28, null);
        double Error(OnnxModel model) => Ort.MaxDifference(expected, Ort.Run(OnnxExport.ToBytes(model), input, [16, 1, 28, 28])["logits"]);

        var byGamma = Family(family);
        var gammaReport = NetworkSlimming.Apply(byGamma, 0.3, channelMultiple: 1);
        var byVariance = Family(family);
        var varianceReport = NetworkSlimming.Apply(byVariance, 0.3, NetworkSlimming.Measure(byVariance, calibration), channelMultiple: 1);

        Assert.InRange(varianceReport.ChannelsAfter, gammaReport.ChannelsAfter - 2, gammaReport.ChannelsAfter + 2);
        Assert.True(Error(byVariance) < Error(byGamma), $"ranked by variance share {Error(byVariance)}, by gamma {Error(byGamma)}");
    }

    [Fact]
    public void AModelWithBatchNormFoldedAway_IsSlimmedOnItsMeasuredChannels_NotLeftAlone()
    {
        // Exporters often fold BatchNorm into the conv: no gamma is left to rank by, the moments still are.
        OnnxModel Folded()
        {
            var model = TestModels.Plain();
            ModelBuildTasks.Passes.BatchNormFolding.Apply(model.Graph);
            Assert.DoesNotContain(model.Graph.Nodes, n => n.OpType == "BatchNormalization");
            return model;
        }
        var calibration = new ModelBuildTasks.Data.ImageDataset(TestModels.RandomInput(5, 32, 1, 28, 28), 32, 1, 28, 28, null);

        var withoutMoments = NetworkSlimming.Apply(Folded(), 0.3);
        var model = Folded();
        var report = NetworkSlimming.Apply(model, 0.3, NetworkSlimming.Measure(model, calibration), channelMultiple: 1);

        Assert.Equal(withoutMoments.ChannelsBefore, withoutMoments.ChannelsAfter);
        Assert.InRange(report.ChannelsAfter, report.ChannelsBefore * 0.6, report.ChannelsBefore * 0.8);
        Assert.True(report.ParametersAfter < report.ParametersBefore);
        var output = Ort.Run(OnnxExport.ToBytes(model), TestModels.RandomInput(2, 3, 1, 28, 28), [3, 1, 28, 28])["logits"];
        Assert.Equal(30, output.Length);
    }

    [Fact]
    public void AChannelTheKeptOnesCanStandIn_IsRemovedWithoutChangingTheOutput()
    {
        // Channel 2 of the first conv is 0.1 x channel 0 + 0.2 x channel 1 (filters and bias alike), and its
        // consumer reads it through small weights: it goes first, and the consumer's weights on channels 0
        // and 1 take it over (the regression on the kept channels), which its mean alone could not.
        var b = new GraphBuilder("standin");
        var conv = b.Conv(b.Input("x", 1, 8, 8), 3);
        var y = b.Conv(conv, 4);
        b.Output(b.Flatten(y), "logits");
        var model = b.Build();
        var first = model.Graph.Nodes.First(n => n.OpType == "Conv");
        var w = model.Graph.Initializers[first.Inputs[1]].Floats;
        var bias = model.Graph.Initializers[first.Inputs[2]].Floats;
        for (var k = 0; k < 9; k++) w[18 + k] = 0.1f * w[k] + 0.2f * w[9 + k];
        (bias[0], bias[1]) = (0.3f, -0.2f);
        bias[2] = 0.1f * bias[0] + 0.2f * bias[1];
        var consumer = model.Graph.Initializers[model.Graph.Nodes.Last(n => n.OpType == "Conv").Inputs[1]].Floats;
        for (var o = 0; o < 4; o++) for (var k = 0; k < 9; k++) consumer[(o * 3 + 2) * 9 + k] *= 0.5f;
        var input = TestModels.RandomInput(9, 8, 1, 8, 8);
        var expected = Ort.Run(OnnxExport.ToBytes(model), input, [8, 1, 8, 8])["logits"];
        var calibration = new ModelBuildTasks.Data.ImageDataset(TestModels.RandomInput(5, 32, 1, 8, 8), 32, 1, 8, 8, null);

        var report = NetworkSlimming.Apply(model, 0.34, NetworkSlimming.Measure(model, calibration), channelMultiple: 1);

        Assert.Equal((2, 3), report.KeptPerLayer[conv]);
        var actual = Ort.Run(OnnxExport.ToBytes(model), input, [8, 1, 8, 8])["logits"];
        var scale = expected.Max(MathF.Abs);
        Assert.True(Ort.MaxDifference(expected, actual) < 0.01f * scale, $"max difference {Ort.MaxDifference(expected, actual)} of outputs up to {scale}");
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

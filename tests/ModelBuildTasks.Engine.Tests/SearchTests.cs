using System.Globalization;
using ModelBuildTasks.Compression;
using ModelBuildTasks.Graph;
using ModelBuildTasks.Passes;
using ModelBuildTasks.Passes.Quantization;
using ModelBuildTasks.Search;

namespace ModelBuildTasks.Engine.Tests;

public class SearchTests
{
    static readonly string Validation = TestPaths.FashionValidation;

    [Fact]
    public void TheSearchSpace_HasTheStatedResolution_AndTheGridCoversIt()
    {
        var space = SearchSpace.From(new CompressionSettings { Resolution = 0.1, MinBits = 5, MaxNsRatio = 0.5, MaxDcRatio = 0.9, SharedLevels = 16 });
        Assert.Equal([7, 6, 5], space.Bits);
        Assert.Equal([0, 0.1, 0.2, 0.3, 0.4, 0.5], space.NsRatios);
        Assert.Equal(10, space.DcRatios.Count);
        var grid = space.Grid(["iq", "ns", "dc"]).ToList();
        Assert.Equal(3 * 6 * 10 * 2, grid.Count); // DC points with and without sharing (16 levels < 2^6 - 1)
        Assert.Equal(grid.Count, grid.Distinct().Count());
        Assert.False(space.Shares(4)); // 16 levels on a 15-level grid save nothing
    }

    [Fact]
    public void FakeQuantization_PutsWeightsOnTheGridThatTheFinalQuantizationRecovers_ThroughBatchNormFolding()
    {
        var model = TestModels.RandomizeBatchNorm(TestModels.Plain(), seed: 4);
        FakeQuantization.Apply(model.Graph, 5);
        foreach (var tensor in Passes.Pruning.MagnitudePruning.PrunableWeights(model.Graph).Where(t => t.Dims.Length == 4))
        {
            var perChannel = tensor.Floats.ToArray().Chunk((int)(tensor.ElementCount / tensor.Dims[0]));
            Assert.All(perChannel, channel => Assert.True(channel.Distinct().Count() <= 31, $"{tensor.Name}: {channel.Distinct().Count()} distinct values in a channel at 5 bits"));
        }
        // Snapping twice changes nothing, and neither does folding then re-snapping: the grid is per channel.
        var folded = OnnxImport.ToModel(OnnxExport.ToProto(model));
        BatchNormFolding.Apply(folded.Graph);
        var before = Passes.Pruning.MagnitudePruning.PrunableWeights(folded.Graph).ToDictionary(t => t.Name, t => t.Floats.ToArray());
        FakeQuantization.Apply(folded.Graph, 5);
        foreach (var tensor in Passes.Pruning.MagnitudePruning.PrunableWeights(folded.Graph))
            Assert.All(tensor.Floats.ToArray().Zip(before[tensor.Name]), p => Assert.Equal(p.Second, p.First, 1e-5f * Math.Max(1, Math.Abs(p.Second))));
    }

    [Fact]
    public void DcPrunesUnderOneGlobalThresholdByDefault_AndTheScopeIsPartOfTheCacheKey()
    {
        var source = TestModels.RandomizeBatchNorm(TestModels.Plain(), seed: 4);
        var settings = new CompressionSettings { Search = SearchKind.Fixed, Methods = ["iq", "dc"], TargetAccuracy = 0 };
        Assert.Equal(Passes.Pruning.PruningScope.Global, settings.PruningScope);
        Assert.NotEqual(settings.Canonical(), (settings with { PruningScope = Passes.Pruning.PruningScope.PerLayer }).Canonical());

        double[] Sparsities(CompressionSettings s)
        {
            var model = new ChainBuilder(source, s, "scale=0.00392156862745098").Build(new ChainPoint(8, 0, 0.5)).Model;
            return [.. Passes.Pruning.MagnitudePruning.PrunableWeights(model.Graph).Select(t => t.Floats.ToArray().Count(v => v == 0) / (double)t.ElementCount)];
        }
        var global = Sparsities(settings);
        var perLayer = Sparsities(settings with { PruningScope = Passes.Pruning.PruningScope.PerLayer });
        Assert.All(perLayer, r => Assert.Equal(0.5, r, 0.02));
        Assert.True(global.Max() - global.Min() > 0.1, $"one global threshold should prune layers unequally: {string.Join(", ", global)}");
    }

    [Fact]
    public void TheHBlocksOfARatioTheSearchComesBackTo_AreNotMeasuredAgain()
    {
        // The reserves go back to slimming after DC, to ratios the NS stage already measured: each H set costs a pass over 512 images.
        var source = TestModels.RandomizeBatchNorm(TestModels.Plain(), seed: 4);
        var images = Data.DatasetLoader.Load(Validation, Data.PreprocessSpec.Parse(null)).Subset([.. Enumerable.Range(0, 40)]);
        var chain = new ChainBuilder(source, new CompressionSettings { Methods = ["iq", "ns", "dc"], TargetAccuracy = 0 }, "scale=0.00392156862745098", images);
        var quarter = chain.Build(new ChainPoint(null, 0.25, null)).Model;
        var half = chain.Build(new ChainPoint(null, 0.5, null)).Model;

        var first = chain.Hessians(0.25, quarter);
        var other = chain.Hessians(0.5, half);
        Assert.NotSame(first, other);
        Assert.Same(first, chain.Hessians(0.25, quarter));
        Assert.Same(other, chain.Hessians(0.5, half));
        Assert.True(first.Count > 0 && first.Bytes > 0);
    }

    [Fact]
    public void IqFirst_KeepsItsGridThroughSlimming_WhileNsFirst_QuantizesAfresh()
    {
        using var temp = new TestPaths.TempFolder();
        var source = TestModels.RandomizeBatchNorm(TestModels.Plain(), seed: 4);
        ModelFile.Save(source, temp.File("m.onnx"));
        var settings = new CompressionSettings { Search = SearchKind.Fixed, Bits = 5, NsRatio = 0.25, TargetAccuracy = 0, MaxValidationImages = 100 };
        var iqFirst = new ChainBuilder(source, settings with { Methods = ["iq", "ns"] }, "scale=0.00392156862745098").Build(new ChainPoint(5, 0.25, null)).Model;
        var nsFirst = new ChainBuilder(source, settings with { Methods = ["ns", "iq"] }, "scale=0.00392156862745098").Build(new ChainPoint(5, 0.25, null)).Model;
        var quantized = QdqQuantizer.Quantize(iqFirst, Data.DatasetLoader.Load(Validation, Data.PreprocessSpec.Parse(null)).Subset([.. Enumerable.Range(0, 50)]),
            new QuantizationOptions { Bits = 5 }).Model;
        var folded = OnnxImport.ToModel(OnnxExport.ToProto(iqFirst));
        BatchNormFolding.Apply(folded.Graph);
        var moved = 0;
        foreach (var weights in Passes.Pruning.MagnitudePruning.PrunableWeights(folded.Graph))
        {
            // The exported integers times their scales give back IQ's snapped (and folded) weights: one rounding, not two.
            var q = quantized.Graph.Initializers[weights.Name + "_quantized"];
            var scale = quantized.Graph.Initializers[weights.Name + "_scale"].Floats.ToArray();
            var inner = (int)(weights.ElementCount / scale.Length);
            var values = weights.Floats.ToArray();
            // Each output's weights come first in its row; the first conv's row ends in zeros (InputPatches).
            var row = (int)(q.ElementCount / scale.Length);
            for (var i = 0; i < values.Length; i++)
                Assert.Equal(values[i], (sbyte)q.Data[i / inner * row + i % inner] * scale[i / inner], Math.Abs(values[i]) * 1e-4f + 1e-7f);
            var nsFirstWeights = nsFirst.Graph.Initializers[weights.Name].Floats.ToArray();
            var iqFirstWeights = iqFirst.Graph.Initializers[weights.Name].Floats.ToArray();
            moved += nsFirstWeights.Zip(iqFirstWeights).Count(p => Math.Abs(p.First - p.Second) > 1e-6f);
        }
        Assert.True(moved > 0); // where slimming lowered a channel's maximum, NS-first sits on a finer, fresh grid
    }

    [Fact]
    public void MarginSearch_OnARealModel_MeetsTheTarget_StageByStage_AndReportsItsPath()
    {
        var result = Compressor.Run(Path.Combine(TestPaths.RepoRoot, "samples/models/fashion_resnet.onnx"), Validation, null,
            new CompressionSettings { MaxValidationImages = 300, Resolution = 0.1 });
        var r = result.Report;
        Assert.Equal("margin", r.Search);
        Assert.True(r.TargetMet);
        Assert.True(r.FinalAccuracy >= r.TargetAccuracy);
        Assert.Equal(["iq", "ns", "dc"], r.Stages.Select(s => s.Method).Take(3));
        Assert.All(r.Stages.Skip(3), s => Assert.Equal("ns again", s.Method)); // the reserves come back, if DC left any
        Assert.Equal(r.Evaluations, r.Candidates.Count);
        Assert.True(r.Evaluations <= 25, $"{r.Evaluations} evaluations");
        var chosen = Assert.Single(r.Candidates, c => c.Chosen);
        Assert.Equal(r.FinalAccuracy, chosen.Accuracy);
        // The report never contradicts itself: the chosen row and the last stage's are the container written, to the byte.
        Assert.Equal(r.CompressedBytes, chosen.Bytes);
        Assert.Equal(r.CompressedBytes, r.Stages[^1].Bytes);
        Assert.True(r.Ratio > 4, $"ratio {r.Ratio}"); // at least IQ's
        // Each stage kept its reserve: its accuracy is at or above its own target.
        Assert.All(r.Stages.Where(s => s.Chosen != "off"), s => Assert.True(s.Accuracy >= s.Target - 1e-9, $"{s.Method}: {s.Accuracy} < {s.Target}"));
        Assert.Equal(r.Layers.Sum(l => l.OriginalBytes), ModelFile.Load(Path.Combine(TestPaths.RepoRoot, "samples/models/fashion_resnet.onnx")).Graph.Initializers.Values
            .Where(t => r.Layers.Any(l => l.Layer == t.Name)).Sum(t => t.ElementCount * 4));
    }

    [Fact]
    public void PruningThatCostsTooMuchFromTheStart_LeavesDcOff_WithoutMeasuringRatioZeroAgain()
    {
        // A margin of 0.3 points that IQ alone already spends, and a first guess (50%) that misses: backing off along
        // the line from the model DC starts from reaches position 0, which is that model, already measured; a copy
        // with "dc_ratio=0" was measured again (weight sharing alone, tried after, is a model of its own).
        var r = Compressor.Run(Path.Combine(TestPaths.RepoRoot, "samples/models/fashion_densenet.onnx"), Validation, null,
            new CompressionSettings { MaxValidationImages = 300, Resolution = 0.1, Methods = ["iq", "dc"], MaxAccuracyDrop = 0.3 }).Report;
        Assert.DoesNotContain(r.Candidates, c => c.DcRatio == 0 && !c.Description.Contains("levels=", StringComparison.Ordinal));
        var dc = r.Stages.Single(s => s.Method == "dc");
        if (!r.Candidates.Any(c => c.DcRatio > 0 && c.Bound >= dc.Target)) Assert.Equal("off", dc.Chosen);
        Assert.Equal(r.Evaluations, r.Candidates.Count);
    }

    [Fact]
    public void AReserveTheLastStageCannotSpend_GoesBackToSlimming_AgainstTheFinalTarget()
    {
        // DC's knob ends at 10%, so most of the half of the margin slimming kept for it is left when it is done.
        var r = Compressor.Run(Path.Combine(TestPaths.RepoRoot, "samples/models/fashion_resnet.onnx"), Validation, null,
            new CompressionSettings { MaxValidationImages = 300, Resolution = 0.1, MaxDcRatio = 0.1, MaxAccuracyDrop = 4 }).Report;
        Assert.Equal(["iq", "ns", "dc", "ns again"], r.Stages.Select(s => s.Method));
        var (ns, dc, again) = (r.Stages[1], r.Stages[2], r.Stages[3]);
        Assert.True(ns.Target > r.TargetAccuracy + 1e-9, $"the ns stage kept a reserve: {ns.Target} against {r.TargetAccuracy}");
        Assert.Equal(Math.Round(r.TargetAccuracy, 6), again.Target); // the second pass is held to the final target only
        // It went further than the reserve let the ns stage go, and the result still keeps the target.
        static double Ratio(string chosen) => chosen.StartsWith("off", StringComparison.Ordinal) ? 0 : double.Parse(chosen["ns_ratio=".Length..], CultureInfo.InvariantCulture); // off: ratio 0, the model it started from
        Assert.True(Ratio(again.Chosen) > Ratio(ns.Chosen), $"{ns.Chosen} then {again.Chosen}");
        Assert.Equal(Ratio(again.Chosen), double.Parse(r.Chosen["ns_ratio"], CultureInfo.InvariantCulture));
        Assert.True(r.FinalAccuracyBound >= r.TargetAccuracy, $"bound {r.FinalAccuracyBound} < {r.TargetAccuracy}");
        Assert.True(again.Bytes < dc.Bytes, $"{again.Bytes} B after {dc.Bytes} B");
        Assert.Equal(r.CompressedBytes, again.Bytes);
        Assert.Equal("0.1", r.Chosen["dc_ratio"]); // the later stage's choice is held
    }

    [Fact]
    public void GridSearch_EvaluatesEveryPoint_AndKeepsTheSmallestModelMeetingTheTarget()
    {
        var settings = new CompressionSettings { Search = SearchKind.Grid, Methods = ["iq", "dc"], MinBits = 6, Resolution = 0.45, MaxDcRatio = 0.9, MaxValidationImages = 200 };
        var r = Compressor.Run(Path.Combine(TestPaths.RepoRoot, "samples/models/fashion_resnet.onnx"), Validation, null, settings).Report;
        Assert.Equal(2 * 3 * 2, r.Evaluations); // bits {7, 6} x dc {0, 0.45, 0.9} x sharing {off, 16}
        var passing = r.Candidates.Where(c => c.Bound >= r.TargetAccuracy).ToList(); // decided on the lower bound, as the contract is
        var chosen = Assert.Single(r.Candidates, c => c.Chosen);
        Assert.Equal(passing.Min(c => c.Bytes), chosen.Bytes);
        Assert.Equal(0.45, r.Resolution);
    }
}

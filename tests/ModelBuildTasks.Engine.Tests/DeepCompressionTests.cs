using ModelBuildTasks.Data;
using ModelBuildTasks.Graph;
using ModelBuildTasks.Packaging;
using ModelBuildTasks.Passes.Pruning;
using ModelBuildTasks.Passes.Quantization;
using ModelBuildTasks.Passes.WeightSharing;

namespace ModelBuildTasks.Engine.Tests;

public class DeepCompressionTests
{
    [Theory]
    [InlineData(PruningScope.PerLayer)]
    [InlineData(PruningScope.Global)]
    public void MagnitudePruning_ZeroesTheSmallestWeights_AndReturnsTheMasks(PruningScope scope)
    {
        var model = TestModels.Residual();
        var before = MagnitudePruning.PrunableWeights(model.Graph).ToDictionary(t => t.Name, t => t.Floats.ToArray());
        var masks = MagnitudePruning.Apply(model.Graph, 0.6, scope);

        var total = before.Values.Sum(v => v.Length);
        var zeros = MagnitudePruning.PrunableWeights(model.Graph).Sum(t => t.Floats.ToArray().Count(v => v == 0));
        Assert.InRange(zeros, (int)(0.6 * total) - before.Count, (int)(0.6 * total) + before.Count);
        foreach (var tensor in MagnitudePruning.PrunableWeights(model.Graph))
        {
            var values = tensor.Floats.ToArray();
            var mask = masks[tensor.Name];
            Assert.All(Enumerable.Range(0, values.Length), i => Assert.Equal(mask[i] == 0 ? 0f : before[tensor.Name][i], values[i]));
            if (scope == PruningScope.PerLayer) Assert.InRange(mask.Count(m => m == 0), (int)(0.6 * values.Length) - 1, (int)(0.6 * values.Length) + 1);
            // Every kept weight is at least as large as every pruned one (within the layer, or globally).
            var kept = values.Where(v => v != 0).Select(Math.Abs).DefaultIfEmpty(float.MaxValue).Min();
            var pruned = before[tensor.Name].Where((_, i) => mask[i] == 0).Select(Math.Abs).DefaultIfEmpty(0).Max();
            Assert.True(kept >= pruned);
        }
        Assert.All(model.Graph.Nodes.Where(n => n.OpType == "BatchNormalization"), bn => Assert.DoesNotContain(0f, model.Graph.Initializers[bn.Inputs[1]].Floats.ToArray()));
    }

    [Fact]
    public void TheGlobalThreshold_DoesNotDependOnALayersScale_SoALayerOfSmallWeightsIsNotWipedOut()
    {
        // LAMP scores are invariant to scaling a layer; raw magnitudes under one threshold would prune
        // the scaled layer entirely (a classifier head that multiplies large features by small weights).
        var model = TestModels.Residual();
        var scaled = TestModels.Residual();
        var small = MagnitudePruning.PrunableWeights(scaled.Graph).Last();
        System.Numerics.Tensors.TensorPrimitives.Multiply(small.Floats, 1e-3f, small.Floats);

        var masks = MagnitudePruning.Apply(model.Graph, 0.6, PruningScope.Global);
        var scaledMasks = MagnitudePruning.Apply(scaled.Graph, 0.6, PruningScope.Global);

        Assert.Equal(masks.Keys, scaledMasks.Keys);
        foreach (var (name, mask) in masks) Assert.Equal(mask, scaledMasks[name]);
        Assert.Contains(1f, scaledMasks[small.Name]);
    }

    [Fact]
    public void GridKMeans_LeavesAtMostKIntegerLevels_KeepsZeros_AndIsDeterministic()
    {
        var random = new Random(3);
        var values = Enumerable.Range(0, 5000).Select(i => i % 3 == 0 ? (sbyte)0 : (sbyte)Math.Clamp((int)Math.Round(Normal(random) * 40), -127, 127)).ToArray();
        var copy = values.ToArray();
        var levels = GridKMeans.Apply(values, 8);
        Assert.True(levels.Length <= 8, $"{levels.Length} levels");
        Assert.Equal(values.Distinct().Where(v => v != 0).Select(v => (int)v).Order(), levels);
        Assert.All(Enumerable.Range(0, values.Length).Where(i => copy[i] == 0), i => Assert.Equal(0, values[i]));
        var again = copy.ToArray();
        GridKMeans.Apply(again, 8);
        Assert.Equal(values, again);
        // Each value moved to (within rounding) its nearest level.
        Assert.All(Enumerable.Range(0, values.Length).Where(i => values[i] != 0),
            i => Assert.True(Math.Abs(values[i] - copy[i]) <= levels.Min(l => Math.Abs(l - copy[i])) + 1, $"{copy[i]} -> {values[i]}"));
    }

    [Fact]
    public void PrunedAndSharedModel_StillFuses_IsSparse_AndItsContainerIsMuchSmaller()
    {
        var model = TestModels.Plain();
        var calibration = DatasetLoader.Load(TestPaths.FashionTrain, limit: 128);
        var (plain, _) = QdqQuantizer.Quantize(model, calibration);
        var (deep, _) = QdqQuantizer.Quantize(model, calibration, new QuantizationOptions { PruneRatio = 0.7, SharedLevels = 8 });

        var convs = model.Graph.Nodes.Count(n => n.OpType == "Conv");
        Assert.Equal(convs, QuantizationTests.OptimizedOps(OnnxExport.ToBytes(deep)).GetValueOrDefault("QLinearConv"));
        foreach (var weights in deep.Graph.Initializers.Values.Where(t => t.Type == ElementType.Int8 && t.Dims.Length > 1))
        {
            Assert.True(weights.Data.Count(b => b == 0) >= 0.69 * weights.Data.Length, weights.Name);
            Assert.True(weights.Data.Where(b => b != 0).Distinct().Count() <= 8, weights.Name);
        }
        // The weight tensors' stored size (the rest of this tiny model's container is metadata, graph and scales).
        static long WeightBytes(OnnxModel m) => Container.ContainerWriter.Storage(m.Graph.Initializers.Values
            .Where(t => t.Type == ElementType.Int8 && t.Dims.Length > 1)
            .Select(t => new Container.ContainerTensor(t.Name, (int)t.Type, t.Dims, t.Data)).ToList()).Sum(s => s.StoredBytes);
        Assert.True(WeightBytes(deep) < WeightBytes(plain) * 0.5, $"pruned+shared {WeightBytes(deep)} vs plain int8 {WeightBytes(plain)} bytes of weights");
    }

    static double Normal(Random r) => Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble());
}

using System.Runtime.InteropServices;
using ModelBuildTasks.Compression;
using ModelBuildTasks.Data;
using ModelBuildTasks.Graph;
using ModelBuildTasks.Passes.Quantization;

namespace ModelBuildTasks.Engine.Tests;

/// <summary>Per-layer precision: layers give up bits below the model's grid, cheapest first (issue 15, scope 2).</summary>
public class LayerPrecisionTests(Xunit.Abstractions.ITestOutputHelper output)
{
    static readonly string Validation = TestPaths.FashionValidation;
    static readonly string Vgg = Path.Combine(TestPaths.RepoRoot, "samples/models/fashion_vgg.onnx");

    static ImageDataset Images => DatasetLoader.Load(Validation, PreprocessSpec.Parse(null), limit: 64);

    // Weight names and element counts of the quantizable layers, as the quantizer sees them (BatchNorms folded).
    static Dictionary<string, long> LayerSizes(OnnxModel model)
    {
        var folded = QdqQuantizer.Folded(model).Model.Graph;
        return folded.Nodes.Where(n => n.OpType is "Conv" or "Gemm" && folded.FindInitializer(n.Inputs[1]) is not null)
            .ToDictionary(n => n.Inputs[1], n => folded.FindInitializer(n.Inputs[1])!.ElementCount);
    }

    static IReadOnlyDictionary<string, LayerNarrowing.LayerCost> Costs(OnnxModel model, int bits)
    {
        var folded = QdqQuantizer.Folded(model).Model;
        return LayerNarrowing.Costs(folded, QdqQuantizer.MeasureHessians(folded, Images), bits, compensated: true);
    }

    [Fact]
    public void EveryLayersCost_GrowsAsItsGridNarrows()
    {
        var model = ModelFile.Load(Vgg);

        var costs = Costs(model, PortableGrid.MaxBits);

        Assert.Equal(LayerSizes(model).Keys.Order(StringComparer.Ordinal), costs.Keys.Order(StringComparer.Ordinal));
        foreach (var (layer, cost) in costs)
        {
            output.WriteLine($"{layer} ({cost.Weights} weights): " + string.Join(" ", Enumerable.Range(2, 6).Select(b => $"{b}:{cost.Error[b]:G3}")));
            Assert.True(cost.Error[PortableGrid.MaxBits] > 0, layer);
            for (var b = LayerNarrowing.MinBits; b < PortableGrid.MaxBits; b++)
                Assert.True(cost.Error[b] > cost.Error[b + 1], $"{layer}: {b} bits {cost.Error[b]} against {b + 1} bits {cost.Error[b + 1]}");
            Assert.True(cost.Error[LayerNarrowing.MinBits] < 1, layer); // rounding never loses more than the output carries
        }
    }

    [Fact]
    public void TheOrder_TakesEveryLayerDownOneBitAtATime_ToTwoBits()
    {
        var model = ModelFile.Load(Vgg);

        var order = LayerNarrowing.Order(Costs(model, 5), bits: 5);
        foreach (var s in order) output.WriteLine($"{s.Weights} -> {s.Bits} bits, cost {s.Cost:G3}");

        var layers = LayerSizes(model);
        Assert.Equal(layers.Count * (5 - LayerNarrowing.MinBits), order.Count);
        foreach (var layer in layers.Keys)
            Assert.Equal([4, 3, 2], order.Where(s => s.Weights == layer).Select(s => s.Bits));
        // After(k) is what the first k steps left, and only the layers they touched.
        var after = LayerNarrowing.After(order, 3);
        Assert.Equal(order.Take(3).Select(s => s.Weights).Distinct().Order(StringComparer.Ordinal), after.Keys);
        Assert.All(after, kv => Assert.Equal(order.Take(3).Last(s => s.Weights == kv.Key).Bits, kv.Value));
        Assert.Empty(LayerNarrowing.After(order, 0));
    }

    [Fact]
    public void TheOrder_StopsAtMinBits()
    {
        var model = ModelFile.Load(Vgg);

        var order = LayerNarrowing.Order(Costs(model, 5), bits: 5, floor: 4);

        Assert.Equal(LayerSizes(model).Count, order.Count);
        Assert.All(order, s => Assert.Equal(4, s.Bits));
    }

    [Fact]
    public void MinBitsSeven_KeepsEveryLayerOnSevenBits_AndMinBitsBelowTwoIsAClearError()
    {
        var settings = new CompressionSettings { Methods = ["iq"], MinBits = 7, MaxValidationImages = 500 };

        var (_, report) = Compressor.Run(Vgg, Validation, null, settings);

        Assert.Equal("7", report.Chosen["bits"]);
        Assert.False(report.Chosen.ContainsKey("layer_bits"));
        Assert.All(report.Candidates, c => Assert.DoesNotContain("narrow", c.Description));
        var e = Assert.Throws<ModelBuildException>(() => new CompressionSettings { MinBits = 1 }.Validate());
        Assert.Equal(ErrorCodes.InvalidSetting, e.Code);
    }

    [Fact]
    public void TheLargestLayer_IsNarrowedBeforeTheSmallest()
    {
        // Cost is per weight: the classifier's 691,200 weights tolerate a coarse grid far more cheaply each than the
        // first convolution's 288, on whose few weights every later layer depends.
        var model = ModelFile.Load(Vgg);
        var layers = LayerSizes(model);
        var largest = layers.MaxBy(kv => kv.Value).Key;
        var smallest = layers.MinBy(kv => kv.Value).Key;

        var order = LayerNarrowing.Order(Costs(model, 5), bits: 5).ToList();

        Assert.True(order.FindIndex(s => s.Weights == largest) < order.FindIndex(s => s.Weights == smallest),
            string.Join(", ", order.Select(s => $"{s.Weights}:{s.Bits}")));
    }

    [Fact]
    public void ANarrowedLayer_IsQuantizedOnItsOwnGrid_AndTheOthersOnTheModels()
    {
        var model = ModelFile.Load(Vgg);
        var layers = LayerSizes(model);
        var largest = layers.MaxBy(kv => kv.Value).Key;

        var quantized = QdqQuantizer.Quantize(model, Images, new QuantizationOptions { Bits = 5, LayerBits = new Dictionary<string, int> { [largest] = 2 } }).Model;

        // Each layer's int8 weights, found through the DequantizeLinear that feeds it.
        var graph = quantized.Graph;
        int Widest(string weights)
        {
            var q = graph.Initializers.Values.Single(t => t.Name.StartsWith(weights + "_quantized", StringComparison.Ordinal));
            return MemoryMarshal.Cast<byte, sbyte>(q.Data).ToArray().Max(v => Math.Abs((int)v));
        }
        Assert.Equal(1, Widest(largest)); // 2 bits: -1, 0 and 1
        Assert.All(layers.Keys.Where(l => l != largest), l => Assert.Equal(15, Widest(l))); // 5 bits: up to +-15
    }

    [Theory]
    [InlineData(1)]
    [InlineData(6)]
    public void ALayerGridOutsideTwoBitsToTheModels_IsAClearError(int bits)
    {
        var model = ModelFile.Load(Vgg);
        var layer = LayerSizes(model).Keys.First();

        var e = Assert.Throws<ModelBuildException>(() => QdqQuantizer.Quantize(model, Images, new QuantizationOptions { Bits = 5, LayerBits = new Dictionary<string, int> { [layer] = bits } }));

        Assert.Equal(ErrorCodes.InvalidSetting, e.Code);
        Assert.Contains(layer, e.Message);
    }

    // The VGG sample with each weight renamed to hold a comma and a backslash, which the knob lists must keep whole.
    static string WithPunctuatedWeights(string folder)
    {
        var model = Onnx.Proto.ModelProto.Parser.ParseFrom(File.ReadAllBytes(Vgg));
        var renamed = model.Graph.Initializer.Where(t => t.Dims.Count >= 2).ToDictionary(t => t.Name, t => t.Name + ",w\\x");
        foreach (var t in model.Graph.Initializer) if (renamed.TryGetValue(t.Name, out var name)) t.Name = name;
        foreach (var node in model.Graph.Node)
            for (var i = 0; i < node.Input.Count; i++)
                if (renamed.TryGetValue(node.Input[i], out var name)) node.Input[i] = name;
        var path = Path.Combine(folder, "vgg.onnx");
        File.WriteAllBytes(path, Google.Protobuf.MessageExtensions.ToByteArray(model));
        return path;
    }

    [Fact]
    public void WhatTheUniformGridLeavesOfIqsMargin_IsSpentOnNarrowerLayers_AndTheTargetHolds()
    {
        // IQ alone: the narrowest uniform grid the space has (4 bits) keeps a wide margin, which narrower layers spend.
        using var temp = new TestPaths.TempFolder();
        var settings = new CompressionSettings { Methods = ["iq"], MaxValidationImages = 500 };

        var (_, report) = Compressor.Run(WithPunctuatedWeights(temp.Path), Validation, null, settings);
        foreach (var c in report.Candidates) output.WriteLine($"{c.Description}: {c.Bytes} B, {c.Accuracy:0.000} (bound {c.Bound:0.000})");

        Assert.True(report.TargetMet, $"bound {report.FinalAccuracyBound} against {report.TargetAccuracy}");
        var steps = int.Parse(report.Chosen["narrow_steps"]);
        Assert.True(steps > 0);
        Assert.Contains($"narrow_steps={steps}", report.Stages.Single().Chosen);
        // The container says which layers, and each is on a grid narrower than the model's.
        var bits = int.Parse(report.Chosen["bits"]);
        var layerBits = NameList.Split(report.Chosen["layer_bits"]).Select(e => LayerNarrowing.ParseEntry(e)!.Value).ToDictionary(p => p.Weights, p => p.Bits);
        Assert.NotEmpty(layerBits);
        Assert.All(layerBits.Keys, w => Assert.EndsWith(",w\\x", w));
        Assert.All(layerBits.Values, b => Assert.InRange(b, LayerNarrowing.MinBits, bits - 1));
        // The report names each layer's grid.
        Assert.All(report.Layers, l => Assert.Equal(layerBits.TryGetValue(l.Layer, out var own) ? own : bits, l.Bits));
        // Worth its margin: at least a twentieth smaller than the uniform grid it started from.
        var uniform = report.Candidates.Single(c => c.Description == $"iq: bits={bits}");
        var chosen = report.Candidates.Single(c => c.Chosen);
        Assert.True(chosen.Bytes <= 0.95 * uniform.Bytes, $"{chosen.Bytes} B against {uniform.Bytes} B");
    }
}

using ModelBuildTasks.Data;
using ModelBuildTasks.Graph;
using ModelBuildTasks.Passes.Quantization;

namespace ModelBuildTasks.Engine.Tests;

/// <summary>GPTQ-style compensated rounding (issue #15): the H blocks are x xT of the layer's inputs, and compensation lowers the layer's output error.</summary>
public class ErrorCompensationTests
{
    static ImageDataset Images(int count, int channels, int size, int seed)
    {
        var random = new Random(seed);
        // Correlated inputs (a smooth field plus noise), as image features are: compensation has something to exploit.
        var pixels = new float[count * channels * size * size];
        for (var i = 0; i < pixels.Length; i++) pixels[i] = (float)(Math.Sin(i % size * 0.3 + i / size % size * 0.2 + i / (size * size) * 1.7) + 0.3 * random.NextDouble());
        return new ImageDataset(pixels, count, channels, size, size, null);
    }

    static OnnxModel OneLayer(Func<GraphBuilder, string, string> layer, int channels, int size)
    {
        var b = new GraphBuilder("one", 5);
        b.Output(layer(b, b.Input("input", channels, size, size)), "y");
        return QdqQuantizer.Folded(b.Build()).Model;
    }

    static float[] Run(OnnxModel model, ImageDataset data) => Ort.Run(OnnxExport.ToBytes(model), data.Pixels, [data.Count, data.Channels, data.Height, data.Width]).Values.Single();

    static double Error(float[] a, float[] b) => a.Zip(b, (x, y) => (double)(x - y) * (x - y)).Sum();

    static (double Nearest, double Compensated) Errors(OnnxModel model, ImageDataset data, int bits, double prune)
    {
        var expected = Run(model, data);
        var hessians = LayerHessians.Collect(model, data);
        Assert.Equal(model.Graph.Nodes.Count(n => n.OpType is "Conv" or "Gemm"), hessians.Count);
        double ErrorOf(bool compensate)
        {
            var copy = OnnxImport.ToModel(OnnxExport.ToProto(model));
            var dense = Passes.Pruning.MagnitudePruning.PrunableWeights(copy.Graph).ToDictionary(t => t.Name, t => t.Floats.ToArray());
            if (prune > 0) Passes.Pruning.MagnitudePruning.Apply(copy.Graph, prune);
            var zeros = Passes.Pruning.MagnitudePruning.PrunableWeights(copy.Graph).Sum(t => t.Floats.ToArray().Count(v => v == 0));
            if (compensate)
            {
                ErrorCompensation.Apply(copy.Graph, hessians, _ => bits, dense);
                // The mask is chosen again (SparseGPT) but each layer keeps at least the share magnitude pruning gave it (rounding to zero adds more).
                var after = Passes.Pruning.MagnitudePruning.PrunableWeights(copy.Graph).Sum(t => t.Floats.ToArray().Count(v => v == 0));
                Assert.True(after >= zeros, $"{after} zeros after compensation, {zeros} pruned");
            }
            else FakeQuantization.Apply(copy.Graph, bits);
            return Error(expected, Run(copy, data));
        }
        return (ErrorOf(false), ErrorOf(true));
    }

    [Theory]
    [InlineData(4, 0.0)]
    [InlineData(7, 0.0)]
    [InlineData(7, 0.5)]
    public void OnAConvolution_CompensationLowersTheOutputError(int bits, double prune)
    {
        var model = OneLayer((b, x) => b.Conv(x, 16, stride: 2), 8, 12);
        var (nearest, compensated) = Errors(model, Images(64, 8, 12, 1), bits, prune);
        Assert.True(compensated < 0.8 * nearest, $"nearest {nearest}, compensated {compensated}");
    }

    [Fact]
    public void OnAGroupedConvolutionAndALinearLayer_CompensationLowersTheOutputError()
    {
        var model = OneLayer((b, x) => b.Linear(b.Flatten(b.Conv(x, 8, group: 2)), 10), 4, 6);
        var (nearest, compensated) = Errors(model, Images(128, 4, 6, 2), 4, 0);
        Assert.True(compensated < 0.8 * nearest, $"nearest {nearest}, compensated {compensated}");
    }

    [Fact]
    public void TheHessianOfALinearLayer_IsTheSumOfItsInputsOuterProducts()
    {
        var model = OneLayer((b, x) => b.Linear(b.Flatten(x), 3), 1, 5);
        var data = Images(37, 1, 5, 3); // not a multiple of the batch: every image counts once
        var (layout, h) = LayerHessians.Collect(model, data).For(model.Graph.Nodes.Single(n => n.OpType == "Gemm").Inputs[1])!.Value;
        Assert.Equal((3, 25, 25), (layout.Rows, layout.Columns, layout.BlockSize));
        for (var i = 0; i < 25; i++)
            for (var j = 0; j < 25; j++)
            {
                var expected = 0.0;
                for (var n = 0; n < data.Count; n++) expected += data.Pixels[n * 25 + i] * data.Pixels[n * 25 + j];
                Assert.True(Math.Abs(expected - h[i * 25 + j]) <= 1e-3 * Math.Max(1, Math.Abs(expected)), $"H[{i},{j}] = {h[i * 25 + j]}, not {expected}");
            }
    }

    [Theory]
    [InlineData(9, 2, 1, 2)]
    [InlineData(40, 1, 1, 1)] // 1,600 receptive fields per image: every second row and column
    public void TheHessianOfAConvolution_IsTheSumOverItsReceptiveFields_PerGroup_WithPaddingStridesAndDilations(int size, int stride, int pad, int dilation)
    {
        const int channels = 6, groups = 2, perGroup = channels / groups;
        var b = new GraphBuilder("one", 13);
        b.Output(b.Conv(b.Input("input", channels, size, size), 4, stride: stride, pad: pad, group: groups), "y");
        var built = b.Build();
        var conv = built.Graph.Nodes.Single(n => n.OpType == "Conv");
        built.Graph.Nodes[built.Graph.Nodes.IndexOf(conv)] = conv.With("dilations", NodeAttribute.Of(dilation, (long)dilation));
        var model = QdqQuantizer.Folded(built).Model;
        var data = Images(5, channels, size, 5);
        var (layout, h) = LayerHessians.Collect(model, data).For(conv.Inputs[1])!.Value;
        const int columns = perGroup * 9;
        var outSize = (size + 2 * pad - dilation * 2 - 1) / stride + 1;
        var step = 1; // past 1,024 positions per image, H takes every step-th row and column
        while (outSize / step * (outSize / step) > 1024) step++;
        Assert.Equal((4, columns, groups, columns), (layout.Rows, layout.Columns, layout.Groups, layout.BlockSize));

        var expected = new double[groups * columns * columns];
        var x = new double[columns];
        for (var n = 0; n < data.Count; n++)
            for (var g = 0; g < groups; g++)
                for (var oy = 0; oy < outSize; oy += step)
                    for (var ox = 0; ox < outSize; ox += step)
                    {
                        for (var c = 0; c < perGroup; c++)
                            for (var i = 0; i < 3; i++)
                                for (var j = 0; j < 3; j++)
                                {
                                    var (y, xx) = (oy * stride - pad + i * dilation, ox * stride - pad + j * dilation);
                                    x[c * 9 + i * 3 + j] = y < 0 || y >= size || xx < 0 || xx >= size ? 0
                                        : data.Pixels[((n * channels + g * perGroup + c) * size + y) * size + xx];
                                }
                        for (var r = 0; r < columns; r++)
                            for (var s = 0; s < columns; s++) expected[(g * columns + r) * columns + s] += x[r] * x[s];
                    }
        for (var i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - h[i]) <= 1e-4 * Math.Max(1, Math.Abs(expected[i])), $"H[{i}] = {h[i]}, not {expected[i]}");
    }

    [Fact]
    public void WithSharedLevels_EachLayerKeepsAtMostThatManyLevels_AndLessErrorThanSharingAfterNearestRounding()
    {
        var model = OneLayer((b, x) => b.Conv(x, 16), 8, 10);
        var data = Images(64, 8, 10, 4);
        var expected = Run(model, data);
        var weight = model.Graph.Nodes.Single(n => n.OpType == "Conv").Inputs[1];

        var compensated = OnnxImport.ToModel(OnnxExport.ToProto(model));
        ErrorCompensation.Apply(compensated.Graph, LayerHessians.Collect(model, data), bitsOf: _ => 7, sharedLevels: 8);
        var w = compensated.Graph.Initializers[weight];
        var (integers, _) = WeightQuantization.PerChannel(w.Floats, w.Dims, 0, 7);
        Assert.InRange(integers.Where(v => v != 0).Distinct().Count(), 2, 8);

        // The nearest-rounding path: 7-bit integers, then k-means sharing, as the export does without compensation.
        var (quantized, _) = QdqQuantizer.Quantize(model, data, new QuantizationOptions { Bits = 7, SharedLevels = 8 });
        var nearest = Error(expected, Ort.Run(OnnxExport.ToBytes(quantized), data.Pixels, [data.Count, 8, 10, 10]).Values.Single());
        var (compensatedQdq, _) = QdqQuantizer.Quantize(model, data, new QuantizationOptions { Bits = 7, SharedLevels = 8, ErrorCompensation = true });
        var withCompensation = Error(expected, Ort.Run(OnnxExport.ToBytes(compensatedQdq), data.Pixels, [data.Count, 8, 10, 10]).Values.Single());
        Assert.True(withCompensation < 0.8 * nearest, $"nearest {nearest}, compensated {withCompensation}");
    }
}

using ModelBuildTasks.Data;
using ModelBuildTasks.Graph;
using ModelBuildTasks.Passes;
using ModelBuildTasks.Passes.Quantization;

namespace ModelBuildTasks.Engine.Tests;

/// <summary>The two rewrites that keep a DenseNet on ONNX Runtime's fast integer kernels: transition pools as depthwise convolutions, shared Concat ranges.</summary>
public class DenseNetKernelTests
{
    static OnnxModel DenseNet() => ModelFile.Load(Path.Combine(TestPaths.RepoRoot, "samples/models/fashion_densenet.onnx"));

    [Fact]
    public void TilingAveragePools_BecomeDepthwiseConvolutions_ThatComputeTheSameAverages()
    {
        var (model, _) = QdqQuantizer.Folded(DenseNet());
        var input = TestModels.RandomInput(3, 8, 1, 28, 28);
        var expected = Ort.Run(OnnxExport.ToBytes(model), input, [8, 1, 28, 28]).Values.Single();

        Assert.Equal(2, AveragePoolAsDepthwiseConv.Apply(model.Graph));

        Assert.DoesNotContain(model.Graph.Nodes, n => n.OpType == "AveragePool");
        var actual = Ort.Run(OnnxExport.ToBytes(model), input, [8, 1, 28, 28]).Values.Single();
        Assert.True(Ort.MaxDifference(expected, actual) < 1e-4f * expected.Max(MathF.Abs), $"max difference {Ort.MaxDifference(expected, actual)}");
    }

    [Fact]
    public void PoolsWhoseWindowsOverlapOrArePadded_StayPools()
    {
        var b = new GraphBuilder("pools");
        var x = b.Conv(b.Input("input", 1, 12, 12), 8);
        var overlapping = b.AveragePool(x, kernel: 3, stride: 2);
        var padded = b.Add("AveragePool", [x], ("kernel_shape", NodeAttribute.Of(2L, 2L)), ("strides", NodeAttribute.Of(2L, 2L)), ("pads", NodeAttribute.Of(1L, 1L, 1L, 1L)));
        b.Output(b.Concat(b.Flatten(overlapping), b.Flatten(padded)), "features");
        var (model, _) = QdqQuantizer.Folded(b.Build());

        Assert.Equal(0, AveragePoolAsDepthwiseConv.Apply(model.Graph));
        Assert.Equal(2, model.Graph.Nodes.Count(n => n.OpType == "AveragePool"));
    }

    [Fact]
    public void AQuantizedDenseNet_HasNoIntegerPools_AndItsConcatsCopyEveryInputWhoseRangeIsCloseToTheirs()
    {
        var calibration = DatasetSplit.Sample(DatasetLoader.Load(TestPaths.FashionTrain), 128, seed: 2);
        var model = QdqQuantizer.Quantize(DenseNet(), calibration).Model;
        var graph = model.Graph;

        var ops = QuantizationTests.OptimizedOps(OnnxExport.ToBytes(model));
        Assert.False(ops.ContainsKey("QLinearAveragePool") || ops.ContainsKey("AveragePool"), string.Join(", ", ops.Keys));
        Assert.True(ops.GetValueOrDefault("QLinearConcat") == 12, string.Join(", ", ops.Keys));

        // Each Concat reads DequantizeLinear outputs and is read by a QuantizeLinear: an input is copied when its scale
        // and zero point are the output's.
        var (copied, requantized) = (0, 0);
        foreach (var concat in graph.Nodes.Where(n => n.OpType == "Concat"))
        {
            var q = graph.Consumers(concat.Outputs[0]).Single(n => n.OpType == "QuantizeLinear");
            var (outScale, outZero) = (Scale(q), Zero(q));
            foreach (var input in concat.Inputs)
            {
                var dq = graph.Producer(input)!;
                Assert.Equal("DequantizeLinear", dq.OpType);
                if (Scale(dq) == outScale && Zero(dq) == outZero) copied++;
                else requantized++;
            }
        }
        Assert.True(copied > requantized, $"{copied} inputs copied, {requantized} requantized");
        Assert.True(requantized > 0); // the stem's features span a seventh of their block's range: sharing it cost 3 points

        float Scale(Node n) => graph.FindInitializer(n.Inputs[1])!.Floats[0];
        byte Zero(Node n) => graph.FindInitializer(n.Inputs[2])!.Data[0];
    }
}

using ModelBuildTasks.Graph;
using ModelBuildTasks.Shapes;

namespace ModelBuildTasks.Engine.Tests;
using ModelBuildTasks.Tests;

public class ShapeInferenceTests
{
    // Each case adds operators after an input of [N, 3, 9, 9]; the inferred output shape must be
    // exactly what ONNX Runtime produces for N = 2.
    public static TheoryData<string> Cases => [.. Builders.Keys];

    static readonly Dictionary<string, Func<GraphBuilder, string, string>> Builders = new()
    {
        ["conv k3 s2 p1"] = (b, x) => b.Conv(x, 5, kernel: 3, stride: 2, pad: 1),
        ["conv k1 no pad"] = (b, x) => b.Conv(x, 4, kernel: 1, pad: 0),
        ["conv depthwise"] = (b, x) => b.Conv(x, 6, kernel: 3, group: 3),
        ["conv dilated"] = (b, x) => b.Add("Conv", [x, b.Constant("w", [4, 3, 3, 3], 0.1f)], ("dilations", NodeAttribute.Of([2L, 2L]))),
        ["conv same_upper s2"] = (b, x) => b.Add("Conv", [x, b.Constant("w", [4, 3, 3, 3], 0.1f)], ("auto_pad", NodeAttribute.Of("SAME_UPPER")), ("strides", NodeAttribute.Of([2L, 2L]))),
        ["maxpool ceil"] = (b, x) => b.Add("MaxPool", [x], ("kernel_shape", NodeAttribute.Of([3L, 3L])), ("strides", NodeAttribute.Of([2L, 2L])), ("ceil_mode", NodeAttribute.Of(1L))),
        ["avgpool padded"] = (b, x) => b.Add("AveragePool", [x], ("kernel_shape", NodeAttribute.Of([2L, 2L])), ("pads", NodeAttribute.Of([1L, 1L, 1L, 1L]))),
        ["global average pool"] = (b, x) => b.GlobalAveragePool(x),
        ["batchnorm relu"] = (b, x) => b.Relu(b.BatchNorm(x)),
        ["clip sigmoid leakyrelu"] = (b, x) => b.Add("LeakyRelu", [b.Add("Sigmoid", [b.Add("Clip", [x])])]),
        ["softmax identity dropout"] = (b, x) => b.Add("Dropout", [b.Add("Identity", [b.Add("Softmax", [x])])]),
        ["add broadcast"] = (b, x) => b.Sum(x, b.Constant("c", [3, 1, 1], 1f)),
        ["mul broadcast"] = (b, x) => b.Add("Mul", [x, b.Constant("c", [9], 2f)]),
        ["concat"] = (b, x) => b.Concat(x, b.Conv(x, 2)),
        ["flatten axis 2"] = (b, x) => b.Add("Flatten", [x], ("axis", NodeAttribute.Of(2L))),
        ["flatten axis -1"] = (b, x) => b.Add("Flatten", [x], ("axis", NodeAttribute.Of(-1L))),
        ["reshape 0,-1"] = (b, x) => b.Add("Reshape", [x, Int64s(b, 0, -1)]),
        ["reshape 0,3,-1"] = (b, x) => b.Add("Reshape", [x, Int64s(b, 0, 3, -1)]),
        ["gemm transB"] = (b, x) => b.Linear(b.Flatten(x), 7),
        ["gemm plain"] = (b, x) => b.Add("Gemm", [b.Flatten(x), b.Constant("w", [243, 5], 0.1f)]),
        ["matmul"] = (b, x) => b.Add("MatMul", [b.Flatten(x), b.Constant("w", [243, 4], 0.1f)]),
        ["matmul batched"] = (b, x) => b.Add("MatMul", [x, b.Constant("w", [9, 2], 0.1f)]),
        ["pad"] = (b, x) => b.Add("Pad", [x, Int64s(b, 0, 0, 1, 2, 0, 0, 3, 4)]),
    };

    static string Int64s(GraphBuilder b, params long[] values)
    {
        var name = $"shape_{b.Graph.Initializers.Count}";
        b.Graph.AddInitializer(Tensor.FromInt64s(name, [values.Length], values));
        return name;
    }

    [Theory, MemberData(nameof(Cases))]
    public void InferredShape_MatchesOnnxRuntime(string name)
    {
        var b = new GraphBuilder("case");
        var output = Builders[name](b, b.Input("x", 3, 9, 9));
        b.Output(output);
        var model = b.Build();

        var inferred = ShapeInference.Infer(model.Graph).Values[output].Shape!;
        var actual = OrtShapes.FirstOutput(OnnxExport.ToBytes(model), [2, 3, 9, 9]);
        Assert.Equal(actual.Length, inferred.Rank);
        for (var i = 0; i < actual.Length; i++)
        {
            var d = inferred[i];
            if (d.IsKnown) Assert.Equal(actual[i], d.Value);
            else Assert.True(i == 0 && d.Symbol is "N" or null, $"axis {i} is {d}"); // only the batch axis may stay symbolic (N, or N*k unknown)
        }
    }

    [Fact]
    public void SymbolicBatch_FlowsToTheClassifierOutput()
    {
        var model = TestModels.Residual();
        var logits = ShapeInference.Infer(model.Graph).Values["logits"].Shape!;
        Assert.Equal("[N,10]", logits.ToString());
    }

    [Fact]
    public void ThirdPartyResNet18_AllValuesGetShapes()
    {
        var model = ModelFile.Load(TestPaths.ResNet18);
        var result = ShapeInference.Infer(model.Graph);
        Assert.Empty(result.Unsupported);
        Assert.All(model.Graph.Nodes.SelectMany(n => n.Outputs), o => Assert.True(result.Values[o].Shape!.IsFullyKnown, o));
        Assert.Equal("[1,512,1,1]", result.Values[model.Graph.Outputs[0].Name].Shape!.ToString());
    }

    [Fact]
    public void UnsupportedOperators_AreReportedByNameAndNode_WithoutThrowing()
    {
        var b = new GraphBuilder("unsupported");
        var x = b.Conv(b.Input("x", 3, 9, 9), 4);
        var model = b.Build();
        model.Graph.Nodes.Add(new Node("my_lstm", "LSTM", [x], ["h"]));
        model.Graph.Nodes.Add(new Node("fused", "FusedConv", ["h"], ["y"], domain: "com.microsoft"));
        model.Graph.Nodes.Add(new Node("after", "Relu", ["y"], ["z"]));

        var result = ShapeInference.Infer(model.Graph);
        Assert.Equal(["LSTM", "FusedConv"], result.Unsupported.Select(u => u.OpType));
        Assert.Equal("my_lstm", result.Unsupported[0].NodeName);
        Assert.Equal("com.microsoft", result.Unsupported[1].Domain);
        Assert.False(result.Values.ContainsKey("z")); // downstream of an unknown op stays unknown
        Assert.True(result.Values[x].Shape!.Rank == 4);
    }

    [Fact]
    public void ChannelMismatch_NamesTheNode()
    {
        var b = new GraphBuilder("bad");
        var x = b.Input("x", 3, 9, 9);
        var model = b.Build();
        model.Graph.AddInitializer(Tensor.FromFloats("w", [4, 5, 3, 3], new float[180]));
        model.Graph.Nodes.Add(new Node("conv_bad", "Conv", [x, "w"], ["y"]));
        var error = Assert.Throws<ModelBuildException>(() => ShapeInference.Infer(model.Graph));
        Assert.Equal(ErrorCodes.InvalidGraph, error.Code);
        Assert.Contains("conv_bad", error.Message);
        Assert.Contains("3 channels", error.Message);
    }
}

using ModelBuildTasks.Graph;
using ModelBuildTasks.Shapes;

namespace ModelBuildTasks.Engine.Tests;

public class ShapeInferenceTests
{
    // Each case adds operators after an input of [N, 3, 9, 9]; the inferred output shape must be
    // exactly what ONNX Runtime produces for N = 2.
    public static TheoryData<string> Cases => [.. OpCases.Builders.Keys];

    [Theory, MemberData(nameof(Cases))]
    public void InferredShape_MatchesOnnxRuntime(string name)
    {
        var b = new GraphBuilder("case", opset: OpCases.Opset);
        var output = OpCases.Builders[name](b, b.Input("x", 3, 9, 9));
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

using ModelBuildTasks.Compression;
using ModelBuildTasks.Graph;

namespace ModelBuildTasks.Engine.Tests;

/// <summary>Models the engine refuses, with what to do about them in the message.</summary>
public class ImportHintTests
{
    [Fact]
    public void ANormalisationInTheGraph_IsRefused_WithThePreprocessingThatReplacesIt()
    {
        using var temp = new TestPaths.TempFolder();
        var b = new GraphBuilder("normalised");
        var x = b.Input("input", 1, 28, 28);
        var mean = b.Graph.AddInitializer(Tensor.FromFloats("mean", [1, 1, 1, 1], [0.5f]));
        var std = b.Graph.AddInitializer(Tensor.FromFloats("std", [1, 1, 1, 1], [0.25f]));
        b.Graph.Nodes.Add(new Node("sub", "Sub", [x, mean], ["centred"]));
        b.Graph.Nodes.Add(new Node("div", "Div", ["centred", std], ["scaled"]));
        b.Graph.Nodes.Add(new Node("relu", "Relu", ["scaled"], ["logits"]));
        b.Graph.Outputs.Add(new ValueInfo("logits", ElementType.Float, null));
        ModelFile.Save(b.Build(), temp.File("m.onnx"));

        var e = Assert.Throws<ModelBuildException>(() => CompressionInputs.Load(temp.File("m.onnx"), TestPaths.FashionValidation, null, new CompressionSettings()));
        Assert.Equal(ErrorCodes.UnsupportedOperator, e.Code);
        Assert.EndsWith("not support: Sub (node 'sub'); a normalisation (x - mean) / std in the graph belongs in the preprocessing: export the model without it and give --preprocess \"mean=...;std=...\" (MSBuild: Preprocess)", e.Message);
        Assert.Contains("--preprocess \"mean=...;std=...\"", e.Message);
    }

    [Fact]
    public void ASubtractionInsideTheNetwork_IsNotCalledANormalisation()
    {
        using var temp = new TestPaths.TempFolder();
        var b = new GraphBuilder("inner");
        var x = b.Relu(b.Conv(b.Input("input", 1, 28, 28), 4));
        var one = b.Graph.AddInitializer(Tensor.FromFloats("one", [], [1f]));
        b.Graph.Nodes.Add(new Node("sub", "Sub", [x, one], ["shifted"]));
        b.Graph.Outputs.Add(new ValueInfo("shifted", ElementType.Float, null));
        ModelFile.Save(b.Build(), temp.File("m.onnx"));

        var e = Assert.Throws<ModelBuildException>(() => CompressionInputs.Load(temp.File("m.onnx"), TestPaths.FashionValidation, null, new CompressionSettings()));
        Assert.Equal(ErrorCodes.UnsupportedOperator, e.Code);
        Assert.Contains("Sub (node 'sub')", e.Message);
        Assert.DoesNotContain("preprocess", e.Message);
    }

    [Fact]
    public void AnOutputWithoutItsBatchAxis_IsRefused_NotReadAsOneValuePerImage()
    {
        using var temp = new TestPaths.TempFolder();
        var model = TestModels.Plain();
        var input = model.Graph.Inputs[0];
        model.Graph.Inputs[0] = input with { Shape = new TensorShape(new[] { Dim.Of(1) }.Concat(input.Shape!.Dims.Skip(1))) };
        model.Graph.Outputs[0] = model.Graph.Outputs[0] with { Shape = new TensorShape([Dim.Of(10)]) };
        ModelFile.Save(model, temp.File("m.onnx"));

        var e = Assert.Throws<ModelBuildException>(() => CompressionInputs.Load(temp.File("m.onnx"), TestPaths.FashionValidation, null, new CompressionSettings()));
        Assert.Equal(ErrorCodes.InvalidGraph, e.Code);
        Assert.Contains("output [10] has no batch axis first", e.Message);
    }
}

using ModelBuildTasks.Compression;
using ModelBuildTasks.Graph;

namespace ModelBuildTasks.Engine.Tests;

/// <summary>Models the engine refuses, with what to do about them in the message.</summary>
public class ImportHintTests
{
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

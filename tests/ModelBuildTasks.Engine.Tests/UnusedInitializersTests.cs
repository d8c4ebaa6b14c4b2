using ModelBuildTasks.Compression;
using ModelBuildTasks.Graph;
using ModelBuildTasks.Packaging;

namespace ModelBuildTasks.Engine.Tests;

public class UnusedInitializersTests
{
    [Fact]
    public void WeightsNoNodeReads_AreNotCompressedNorCounted_AndTheUsedOnesStay()
    {
        using var temp = new TestPaths.TempFolder();
        var model = TestModels.Plain();
        var used = model.Graph.Initializers.Keys.ToList();
        var parameters = model.Graph.ParameterCount;
        model.Graph.AddInitializer(Tensor.FromFloats("left_behind", [100, 100], Enumerable.Range(0, 10_000).Select(i => MathF.Sin(i)).ToArray()));
        ModelFile.Save(model, temp.File("m.onnx"));

        var (container, report) = Compressor.Run(temp.File("m.onnx"), TestPaths.FashionValidation, null,
            new CompressionSettings { Search = SearchKind.Fixed, Methods = ["iq"], Bits = 7, TargetAccuracy = 0, MaxValidationImages = 64 });

        Assert.Equal(parameters, report.ParametersOriginal);
        var decoded = OnnxImport.ToModel(Onnx.OnnxModelFile.Parse(ContainerPackaging.ToOnnx(container)));
        Assert.DoesNotContain("left_behind", decoded.Graph.Initializers.Keys);
        Assert.True(container.Length < 10_000 * 4, $"{container.Length} bytes: the 40 KB of unused floats were stored");
        // The pass alone: only what nothing reads goes.
        var again = OnnxImport.ToModel(Onnx.OnnxModelFile.Load(temp.File("m.onnx")));
        Assert.Equal(1, Passes.UnusedInitializers.Remove(again.Graph));
        Assert.Equal(used, again.Graph.Initializers.Keys);
        Assert.Equal(used, ModelFile.Load(temp.File("m.onnx")).Graph.Initializers.Keys); // loading removes them, for every command
    }
}

using ModelBuildTasks.Graph;
using ModelBuildTasks.Training;
using ModelBuildTasks.Training.Native;
using TorchSharp;

namespace ModelBuildTasks.Training.Tests;

/// <summary>The TorchSharp module and ONNX Runtime compute the same function (eval mode), within 1e-4.</summary>
public class AgreementTests
{
    public AgreementTests() => TorchRuntime.EnsureReady(threads: 1);

    public static TheoryData<string> Ops => [.. OpCases.Builders.Keys];

    [Theory, MemberData(nameof(Ops))]
    public void EveryOperator_MatchesOnnxRuntime(string name)
    {
        var b = new GraphBuilder("case", seed: 4, opset: OpCases.Opset);
        var output = OpCases.Builders[name](b, b.Input("x", 3, 9, 9));
        b.Output(output);
        AssertAgrees(TestModels.RandomizeBatchNorm(b.Build(), 4), [2, 3, 9, 9]);
    }

    [Theory]
    [InlineData("plain")]
    [InlineData("residual")]
    [InlineData("dense")]
    public void WholeModels_MatchOnnxRuntime(string family)
    {
        var model = family switch { "plain" => TestModels.Plain(), "residual" => TestModels.Residual(), _ => TestModels.Dense() };
        AssertAgrees(model, [5, 1, 28, 28]);
    }

    [Fact]
    public void ThirdPartyResNet18_MatchesOnnxRuntime()
    {
        var model = ModelFile.Load(TestPaths.ResNet18);
        AssertAgrees(model, [1, 3, 224, 224], tolerance: 1e-3f); // 512 features summed over 11M weights; relative check below
    }

    static void AssertAgrees(OnnxModel model, long[] shape, float tolerance = 1e-4f)
    {
        var input = TestModels.RandomInput(11, shape);
        var expected = Ort.Run(OnnxExport.ToBytes(model), input, shape).First().Value;
        using var module = new TorchGraphModule(model);
        module.eval();
        using var _ = torch.no_grad();
        using var x = torch.tensor(input, shape);
        using var y = module.forward(x);
        var actual = y.contiguous().data<float>().ToArray();
        var scale = Math.Max(1f, expected.Max(Math.Abs));
        Assert.True(Ort.MaxDifference(expected, actual) <= tolerance * scale, $"max difference {Ort.MaxDifference(expected, actual)} (scale {scale})");
    }
}

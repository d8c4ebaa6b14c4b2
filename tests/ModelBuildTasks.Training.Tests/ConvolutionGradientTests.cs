using ModelBuildTasks.Graph;
using ModelBuildTasks.Training.Native;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;
using TorchTensor = TorchSharp.torch.Tensor;

namespace ModelBuildTasks.Training.Tests;

/// <summary>
/// Training convolutions compute the right output and gradients at any channel count, checked against
/// the same convolution written as unfold and matrix product (no convolution kernel involved). libtorch's
/// own kernels were off by 10-50% at counts that are not a multiple of 16 on AVX2/AVX-512 CPUs.
/// </summary>
public class ConvolutionGradientTests
{
    public ConvolutionGradientTests() => TorchRuntime.EnsureReady(threads: 2);

    [Theory]
    [InlineData(3, 4)]
    [InlineData(5, 7)]
    [InlineData(25, 24)]
    [InlineData(24, 61)]
    [InlineData(61, 61)]
    [InlineData(127, 128)]
    [InlineData(32, 64)]
    public void OutputAndGradients_MatchUnfoldTimesWeights(int inputs, int outputs)
    {
        var b = new GraphBuilder("conv", seed: inputs);
        b.Output(b.Conv(b.Input("x", inputs, 14, 14), outputs, kernel: 3));
        var model = b.Build();
        using var module = new TorchGraphModule(model);
        module.train();
        var conv = model.Graph.Nodes.Single();
        var weight = module.NamedWeights.Single(p => p.Name == conv.Inputs[1]).Value;
        var bias = module.NamedWeights.Single(p => p.Name == conv.Inputs[2]).Value;
        using (torch.no_grad()) bias.uniform_(-1, 1);

        torch.manual_seed(inputs * 1000 + outputs);
        var x = torch.randn(16, inputs, 14, 14).requires_grad_(true);
        var upstream = torch.randn(16, outputs, 14, 14);
        var y = module.forward(x);
        (y * upstream).sum().backward();

        var xRef = x.detach().clone().requires_grad_(true);
        var wRef = weight.detach().clone().requires_grad_(true);
        var columns = F.unfold(xRef, (3, 3), padding: (1, 1));                       // [N, C*9, 196]
        var yRef = torch.matmul(wRef.reshape(outputs, -1), columns).reshape(16, outputs, 14, 14) + bias.detach().reshape(1, outputs, 1, 1);
        (yRef * upstream).sum().backward();

        AssertClose("output", yRef, y);
        AssertClose("input gradient", xRef.grad!, x.grad!);
        AssertClose("weight gradient", wRef.grad!, weight.grad!);
    }

    static void AssertClose(string what, TorchTensor expected, TorchTensor actual)
    {
        var scale = Math.Max(1f, expected.abs().max().item<float>());
        var error = (expected - actual.detach()).abs().max().item<float>() / scale;
        Assert.True(error < 1e-4f, $"{what}: relative error {error:G3}");
    }
}

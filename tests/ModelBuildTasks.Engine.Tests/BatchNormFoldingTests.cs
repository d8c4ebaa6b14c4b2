using ModelBuildTasks.Graph;
using ModelBuildTasks.Passes;

namespace ModelBuildTasks.Engine.Tests;

public class BatchNormFoldingTests
{
    [Theory]
    [InlineData("plain", 2, 0)]
    [InlineData("residual", 3, 0)]
    [InlineData("dense", 0, 3)] // BatchNorms after Concat (pre-activation) have no Conv to fold into
    public void Folding_KeepsOutputsAndRemovesFoldableBatchNorms(string family, int expectedFolded, int expectedLeft)
    {
        var model = family switch { "plain" => TestModels.Plain(), "residual" => TestModels.Residual(), _ => TestModels.Dense() };
        var before = OnnxExport.ToBytes(model);

        var folded = BatchNormFolding.Apply(model.Graph);

        Assert.Equal(expectedFolded, folded);
        Assert.Equal(expectedLeft, model.Graph.Nodes.Count(n => n.OpType == "BatchNormalization"));
        var input = TestModels.RandomInput(3, 8, 1, 28, 28);
        // Compare without ORT's own fusions, so the test checks our arithmetic, not ORT's.
        var expected = Ort.Run(before, input, [8, 1, 28, 28], Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_DISABLE_ALL)["logits"];
        var actual = Ort.Run(OnnxExport.ToBytes(model), input, [8, 1, 28, 28], Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_DISABLE_ALL)["logits"];
        Assert.True(Ort.MaxDifference(expected, actual) < 1e-4f, $"max difference {Ort.MaxDifference(expected, actual)}");
    }

    [Fact]
    public void ThirdPartyResNet18_FoldsAllTwentyTwoBatchNorms()
    {
        var model = ModelFile.Load(TestPaths.ResNet18);
        var input = TestModels.RandomInput(5, 1, 3, 224, 224);
        var expected = Ort.Run(OnnxExport.ToBytes(model), input, [1, 3, 224, 224]).Values.Single();

        Assert.Equal(22, BatchNormFolding.Apply(model.Graph));

        var actual = Ort.Run(OnnxExport.ToBytes(model), input, [1, 3, 224, 224]).Values.Single();
        var scale = expected.Max(Math.Abs);
        Assert.True(Ort.MaxDifference(expected, actual) < 1e-4f * Math.Max(1, scale));
    }

    [Fact]
    public void BatchNormsLeftUnfolded_BecomeDepthwiseConvs_ThatComputeTheSame()
    {
        // The dense family's pre-activation BatchNorms follow a Concat, not a Conv. As depthwise 1x1 convs their
        // factors keep 8 significant bits: the output moves by at most their 0.2% rounding.
        var model = TestModels.Dense();
        var input = TestModels.RandomInput(3, 4, 1, 28, 28);
        var expected = Ort.Run(OnnxExport.ToBytes(model), input, [4, 1, 28, 28])["logits"];
        BatchNormFolding.Apply(model.Graph);
        var left = model.Graph.Nodes.Count(n => n.OpType == "BatchNormalization");

        var rewritten = BatchNormAsDepthwiseConv.Apply(model.Graph);

        Assert.Equal(3, left);
        Assert.Equal(left, rewritten);
        Assert.DoesNotContain(model.Graph.Nodes, n => n.OpType == "BatchNormalization");
        var actual = Ort.Run(OnnxExport.ToBytes(model), input, [4, 1, 28, 28])["logits"];
        Assert.True(Ort.MaxDifference(expected, actual) < 0.01f * Math.Max(1, expected.Max(Math.Abs)), $"max difference {Ort.MaxDifference(expected, actual)}");
    }
}

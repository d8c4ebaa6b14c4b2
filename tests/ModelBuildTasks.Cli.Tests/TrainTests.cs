using ModelBuildTasks.Graph;

namespace ModelBuildTasks.Cli.Tests;

public class TrainTests
{
    [Fact]
    public void Train_ThroughTheMainCli_FineTunesAndWritesAModelOnnxRuntimeRuns()
    {
        using var temp = new TestPaths.TempFolder();
        ModelFile.Save(TestModels.Plain(), temp.File("m.onnx"));
        var result = CliRunner.RunWith(new Dictionary<string, string?> { ["MBT_TRAINING_TOOL"] = CliRunner.TrainingTool },
            "train", temp.File("m.onnx"), "--train-data", TestPaths.FashionTrain, "--test-data", TestPaths.FashionTest,
            "--epochs", "1", "--lr", "0.01", "--threads", "2", "-o", temp.File("tuned.onnx"), "--json");

        Assert.True(result.ExitCode == 0, result.Stderr);
        var json = result.Json;
        Assert.True(json.GetProperty("test_accuracy_after").GetDouble() > json.GetProperty("test_accuracy_before").GetDouble() + 0.15, result.Stdout);
        Assert.Equal(2, json.GetProperty("threads").GetInt32());

        var evaluation = CliRunner.Run("evaluate", temp.File("tuned.onnx"), "--data", TestPaths.FashionTest, "--latency-samples", "1", "--json");
        Assert.Equal(0, evaluation.ExitCode);
        Assert.Equal(json.GetProperty("test_accuracy_after").GetDouble(), evaluation.Json.GetProperty("accuracy").GetDouble(), 6);
    }

    static CliRunner.Result Train(params string[] args) =>
        CliRunner.RunWith(new Dictionary<string, string?> { ["MBT_TRAINING_TOOL"] = CliRunner.TrainingTool },
            ["train", .. args, "--train-data", TestPaths.FashionTrain, "--epochs", "1", "--lr", "0.01", "--threads", "2", "--json"]);

    [Fact]
    public void KeepZeros_FineTunesAPrunedModel_WithoutRegrowingPrunedWeights()
    {
        using var temp = new TestPaths.TempFolder();
        var model = TestModels.Plain();
        ModelBuildTasks.Passes.Pruning.MagnitudePruning.Apply(model.Graph, 0.6);
        ModelFile.Save(model, temp.File("pruned.onnx"));

        var result = Train(temp.File("pruned.onnx"), "--keep-zeros", "--test-data", TestPaths.FashionTest, "-o", temp.File("tuned.onnx"));
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.True(result.Json.GetProperty("test_accuracy_after").GetDouble() > result.Json.GetProperty("test_accuracy_before").GetDouble());
        var tuned = ModelFile.Load(temp.File("tuned.onnx"));
        foreach (var weights in ModelBuildTasks.Passes.Pruning.MagnitudePruning.PrunableWeights(model.Graph))
        {
            var before = weights.Floats.ToArray();
            var after = tuned.Graph.Initializers[weights.Name].Floats.ToArray();
            Assert.All(Enumerable.Range(0, before.Length).Where(i => before[i] == 0), i => Assert.Equal(0f, after[i]));
            Assert.True(after.Where((_, i) => before[i] != 0).Zip(before.Where(v => v != 0)).Any(p => p.First != p.Second), "the kept weights should have trained");
        }
    }

    [Fact]
    public void L1Gamma_ShrinksTheBatchNormScales()
    {
        using var temp = new TestPaths.TempFolder();
        ModelFile.Save(TestModels.Plain(seed: 8), temp.File("m.onnx"));
        Assert.Equal(0, Train(temp.File("m.onnx"), "--seed", "3", "-o", temp.File("plain.onnx")).ExitCode);
        Assert.Equal(0, Train(temp.File("m.onnx"), "--seed", "3", "--l1-gamma", "0.05", "-o", temp.File("sparse.onnx")).ExitCode);
        static float SumAbsGamma(string path)
        {
            var m = ModelFile.Load(path);
            return m.Graph.Nodes.Where(n => n.OpType == "BatchNormalization").Sum(n => m.Graph.Initializers[n.Inputs[1]].Floats.ToArray().Sum(Math.Abs));
        }
        Assert.True(SumAbsGamma(temp.File("sparse.onnx")) < SumAbsGamma(temp.File("plain.onnx")) * 0.9);
    }

    [Fact]
    public void Train_WithoutTheAddOn_SaysHowToInstallIt()
    {
        var result = CliRunner.RunWith(new Dictionary<string, string?> { ["MBT_TRAINING_TOOL"] = null, ["PATH"] = "/usr/bin:/bin" },
            "train", "m.onnx", "--train-data", "d", "-o", "x.onnx");
        CliRunner.AssertCleanError(result, 2, ErrorCodes.InvalidSetting);
        Assert.Contains("dotnet tool install --global dotnet-compress-model-train", result.Stderr);
    }

    [Theory]
    [InlineData("--layer-bits", "conv_w:2")] // without --fake-quant-bits
    [InlineData("--fake-quant-bits", "4", "--layer-bits", "conv_w")]
    [InlineData("--fake-quant-bits", "4", "--layer-bits", "no_such_weight:2")]
    [InlineData("--fake-quant-bits", "4", "--layer-bits", "FIRST:5")]
    [InlineData("--fake-quant-bits", "4", "--layer-bits", "FIRST:1")]
    public void LayerBits_ThatCannotApply_AreCleanErrors(params string[] options)
    {
        using var temp = new TestPaths.TempFolder();
        var model = TestModels.Plain();
        var first = model.Graph.Nodes.First(n => n.OpType == "Conv").Inputs[1];
        ModelFile.Save(model, temp.File("m.onnx"));

        var result = Train([temp.File("m.onnx"), .. options.Select(o => o.Replace("FIRST", first, StringComparison.Ordinal)), "-o", temp.File("qat.onnx")]);

        CliRunner.AssertCleanError(result, 2, ErrorCodes.InvalidSetting);
        Assert.Contains("--layer-bits", result.Stderr);
        Assert.False(File.Exists(temp.File("qat.onnx")));
    }

    [Fact]
    public void Train_BadArguments_AreUsageErrors()
    {
        var result = CliRunner.RunWith(new Dictionary<string, string?> { ["MBT_TRAINING_TOOL"] = CliRunner.TrainingTool }, "train", "m.onnx");
        CliRunner.AssertCleanError(result, 2, ErrorCodes.InvalidSetting);
    }
}

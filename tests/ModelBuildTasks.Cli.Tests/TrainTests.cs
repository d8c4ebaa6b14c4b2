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

    [Fact]
    public void Train_WithoutTheAddOn_SaysHowToInstallIt()
    {
        var result = CliRunner.RunWith(new Dictionary<string, string?> { ["MBT_TRAINING_TOOL"] = null, ["PATH"] = "/usr/bin:/bin" },
            "train", "m.onnx", "--train-data", "d", "-o", "x.onnx");
        CliRunner.AssertCleanError(result, 1, ErrorCodes.InvalidSetting);
        Assert.Contains("dotnet tool install --global dotnet-compress-model-train", result.Stderr);
    }

    [Fact]
    public void Train_BadArguments_AreUsageErrors()
    {
        var result = CliRunner.RunWith(new Dictionary<string, string?> { ["MBT_TRAINING_TOOL"] = CliRunner.TrainingTool }, "train", "m.onnx");
        CliRunner.AssertCleanError(result, 2, ErrorCodes.InvalidSetting);
    }
}

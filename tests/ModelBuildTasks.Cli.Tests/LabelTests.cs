using ModelBuildTasks.Graph;
using ModelBuildTasks.Packaging;

namespace ModelBuildTasks.Cli.Tests;

/// <summary>Class names stored in the model against the dataset's class folders: a warning with both lists, and <c>--labels</c> to choose.</summary>
public class LabelTests
{
    static readonly string[] Fashion = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];
    static readonly string[] Digits = ["d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9"];

    // A digits-style image folder (class folders d0..d9, 28x28 grey PNGs) and the test model with Fashion-MNIST names stored.
    static (string Model, string Data) Inputs(TestPaths.TempFolder temp)
    {
        var model = TestModels.Plain();
        model.Metadata["labels"] = string.Join(",", Fashion);
        ModelFile.Save(model, temp.File("m.onnx"));
        var random = new Random(5);
        foreach (var name in Digits)
        {
            Directory.CreateDirectory(temp.File($"digits/{name}"));
            for (var i = 0; i < 3; i++)
            {
                var pixels = new byte[28 * 28];
                random.NextBytes(pixels);
                Fixtures.WritePng(temp.File($"digits/{name}/{i}.png"), 28, 28, 1, pixels);
            }
        }
        return (temp.File("m.onnx"), temp.File("digits"));
    }

    static string[] Compress(string model, string data, string output, params string[] extra) =>
        ["compress", model, "--data", data, "--methods", "iq", "--bits", "7", "--no-cache", "--allow-miss", "-o", output, .. extra];

    [Fact]
    public void Compress_ModelAndDatasetNamesDiffer_WarnsWithBothLists_AndKeepsTheModels()
    {
        using var temp = new TestPaths.TempFolder();
        var (model, data) = Inputs(temp);
        var result = CliRunner.Run(Compress(model, data, temp.File("m.cmodel"), "--report", temp.File("r.json")));
        Assert.True(result.ExitCode == 0, result.Stderr);
        var warning = result.Stderr.Split('\n').Single(l => l.Contains($"warning {ErrorCodes.LabelNameMismatch}:"));
        Assert.StartsWith(model + ": warning", warning); // canonical form: MSBuild shows it as a warning on the model
        Assert.Contains("[T-shirt/top, Trouser, Pullover, Dress, Coat, Sandal, Shirt, Sneaker, Bag, Ankle boot]", warning);
        Assert.Contains("[d0, d1, d2, d3, d4, d5, d6, d7, d8, d9]", warning);
        Assert.Contains("--labels", warning);
        Assert.Equal(Fashion, ContainerPackaging.Read(File.ReadAllBytes(temp.File("m.cmodel"))).Metadata.Labels);
        Assert.Contains(ErrorCodes.LabelNameMismatch, File.ReadAllText(temp.File("r.json"))); // and in the report
    }

    [Fact]
    public void Compress_WithLabels_UsesThem_WithoutWarning()
    {
        using var temp = new TestPaths.TempFolder();
        var (model, data) = Inputs(temp);
        var result = CliRunner.Run(Compress(model, data, temp.File("m.cmodel"), "--labels", string.Join(",", Digits)));
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.DoesNotContain(ErrorCodes.LabelNameMismatch, result.Stderr);
        Assert.Equal(Digits, ContainerPackaging.Read(File.ReadAllBytes(temp.File("m.cmodel"))).Metadata.Labels);
    }

    [Fact]
    public void Compress_NamesThatAgree_NoWarning()
    {
        using var temp = new TestPaths.TempFolder();
        var (_, data) = Inputs(temp);
        var model = TestModels.Plain();
        model.Metadata["labels"] = string.Join(",", Digits.Select(d => d.ToUpperInvariant())); // case aside, the same names
        ModelFile.Save(model, temp.File("same.onnx"));
        var result = CliRunner.Run(Compress(temp.File("same.onnx"), data, temp.File("m.cmodel")));
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.DoesNotContain(ErrorCodes.LabelNameMismatch, result.Stderr);
    }

    [Fact]
    public void NamesInAnotherOrder_AreMatchedByName_WithoutWarning_AndEvaluateWarnsOfRealMismatches()
    {
        using var temp = new TestPaths.TempFolder();
        var (other, data) = Inputs(temp);
        var model = TestModels.Plain();
        model.Metadata["labels"] = string.Join(",", Digits.Reverse()); // the folders' names, not in their order
        ModelFile.Save(model, temp.File("reversed.onnx"));
        var compressed = CliRunner.Run(Compress(temp.File("reversed.onnx"), data, temp.File("m.cmodel")));
        Assert.True(compressed.ExitCode == 0, compressed.Stderr);
        Assert.DoesNotContain(ErrorCodes.LabelNameMismatch, compressed.Stderr);
        var evaluated = CliRunner.Run("evaluate", temp.File("reversed.onnx"), "--data", data, "--latency-samples", "0");
        Assert.True(evaluated.ExitCode == 0, evaluated.Stderr);
        Assert.DoesNotContain(ErrorCodes.LabelNameMismatch, evaluated.Stderr);

        var mismatch = CliRunner.Run("evaluate", other, "--data", data, "--latency-samples", "0");
        Assert.True(mismatch.ExitCode == 0, mismatch.Stderr);
        Assert.Contains($"warning {ErrorCodes.LabelNameMismatch}:", mismatch.Stderr);
    }

    [Fact]
    public void AFolderOfAFewClasses_NamedAsTheModelsClasses_IsScoredAgainstThoseClasses()
    {
        // Bags and trousers from the Fashion-MNIST test set, in folders named after the sample's classes 8 and
        // 1. In name order the folders would be classes 0 and 1: the bags scored as T-shirts.
        using var temp = new TestPaths.TempFolder();
        Fixtures.WriteClassFolders(temp.Path, [(8, "Bag"), (1, "Trouser")], perClass: 20);
        var result = CliRunner.Run("evaluate", Path.Combine(TestPaths.RepoRoot, "samples/models/fashion_vgg.onnx"), "--data", temp.Path, "--latency-samples", "0", "--json");
        Assert.True(result.ExitCode == 0, result.Stderr);
        using var json = System.Text.Json.JsonDocument.Parse(result.Stdout);
        Assert.True(json.RootElement.GetProperty("accuracy").GetDouble() >= 0.9, result.Stdout);
        Assert.DoesNotContain(ErrorCodes.LabelNameMismatch, result.Stderr);
    }

    static CliRunner.Result Train(string model, string data, string output, params string[] extra) =>
        CliRunner.RunWith(new Dictionary<string, string?> { ["MBT_TRAINING_TOOL"] = CliRunner.TrainingTool },
            ["train", model, "--train-data", data, "--epochs", "1", "--batch-size", "10", "--threads", "2", "-o", output, .. extra]);

    [Fact]
    public void Train_Labels_AreStoredInTheWrittenModel_AndAMismatchWithoutThemWarns()
    {
        using var temp = new TestPaths.TempFolder();
        var (model, data) = Inputs(temp);

        var named = Train(model, data, temp.File("named.onnx"), "--labels", string.Join(",", Digits));
        Assert.True(named.ExitCode == 0, named.Stderr);
        Assert.DoesNotContain(ErrorCodes.LabelNameMismatch, named.Stderr);
        Assert.Equal(string.Join(",", Digits), ModelFile.Load(temp.File("named.onnx")).Metadata["labels"]);

        var kept = Train(model, data, temp.File("kept.onnx"));
        Assert.True(kept.ExitCode == 0, kept.Stderr);
        var warning = kept.Stderr.Split('\n').Single(l => l.Contains($"warning {ErrorCodes.LabelNameMismatch}:"));
        Assert.Contains("[d0, d1, d2, d3, d4, d5, d6, d7, d8, d9]", warning);
        Assert.Contains("Ankle boot", warning);
        Assert.Equal(string.Join(",", Fashion), ModelFile.Load(temp.File("kept.onnx")).Metadata["labels"]);
    }

    [Fact]
    public void Train_LabelsOfTheWrongCount_IsACodedError()
    {
        using var temp = new TestPaths.TempFolder();
        var (model, data) = Inputs(temp);
        var result = Train(model, data, temp.File("x.onnx"), "--labels", "a,b,c");
        CliRunner.AssertCleanError(result, 2, ErrorCodes.InvalidSetting);
        Assert.Contains("--labels names 3 classes, the model's output has 10", result.Stderr);
    }
}

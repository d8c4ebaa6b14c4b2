namespace ModelBuildTasks.Cli.Tests;

/// <summary>
/// What a user at a terminal or in a script relies on: an output never replaces an input,
/// <c>--check</c> refuses what the run would refuse, a cached report names this run's files, and a
/// piped table keeps each value on one line.
/// </summary>
public class CliPathAndCheckTests
{
    static readonly string Vgg = Path.Combine(TestPaths.RepoRoot, "samples/models/fashion_vgg.onnx");
    static readonly string Validation = TestPaths.FashionValidation;

    [Fact]
    public void AnOutputThatIsAnInput_IsRefused_AndTheInputIsKept()
    {
        using var temp = new TestPaths.TempFolder();
        File.Copy(Vgg, temp.File("m.onnx"));
        File.CreateSymbolicLink(temp.File("link.onnx"), temp.File("m.onnx"));
        Directory.CreateSymbolicLink(temp.File("folder-link"), temp.Path);
        File.Copy(Validation, temp.File("v-images-idx3-ubyte.gz"));
        File.Copy(ModelBuildTasks.Data.DatasetFiles.LabelsPathFor(Validation)!, temp.File("v-labels-idx1-ubyte.gz"));
        var data = temp.File("v-images-idx3-ubyte.gz");
        var before = Directory.GetFiles(temp.Path).ToDictionary(f => f, File.ReadAllBytes);

        string[][] runs =
        [
            ["compress", temp.File("m.onnx"), "--data", data, "--no-cache", "-o", temp.File("m.onnx")],
            ["compress", temp.File("m.onnx"), "--data", data, "--no-cache", "-o", temp.File("link.onnx")], // the model through a link
            ["compress", temp.File("link.onnx"), "--data", data, "--no-cache", "-o", temp.File("m.onnx")], // the link's target as the output
            ["compress", temp.File("folder-link/m.onnx"), "--data", data, "--no-cache", "-o", temp.File("m.onnx")], // through a linked folder
            ["compress", temp.File("m.onnx"), "--data", data, "--no-cache", "-o", temp.File("x.cmodel"), "--report", temp.File("v-labels-idx1-ubyte.gz")],
            ["compress", temp.File("m.onnx"), "--data", data, "--no-cache", "-o", temp.File("x.cmodel"), "--wrapper", data],
            ["subset", data, "--count", "5", "-o", data],
        ];
        foreach (var args in runs)
        {
            var result = CliRunner.Run(args);
            CliRunner.AssertCleanError(result, 2, ErrorCodes.InvalidSetting);
            Assert.Contains("writing it would replace that file", result.Stderr);
        }
        foreach (var (file, bytes) in before) Assert.Equal(bytes, File.ReadAllBytes(file));
        Assert.False(File.Exists(temp.File("x.cmodel")));
    }

    [Fact]
    public void TrainOverItsOwnModel_IsRefused_BeforeAnyTraining()
    {
        using var temp = new TestPaths.TempFolder();
        File.Copy(Vgg, temp.File("m.onnx"));
        var before = File.ReadAllBytes(temp.File("m.onnx"));
        var result = CliRunner.RunWith(new Dictionary<string, string?> { ["MBT_TRAINING_TOOL"] = CliRunner.TrainingTool },
            ["train", temp.File("m.onnx"), "--train-data", Validation, "--epochs", "1", "-o", temp.File("m.onnx")]);
        CliRunner.AssertCleanError(result, 2, ErrorCodes.InvalidSetting);
        Assert.Contains("writing it would replace that file", result.Stderr);
        Assert.Equal(before, File.ReadAllBytes(temp.File("m.onnx")));
    }

    [Fact]
    public void ExportOverItsOwnContainer_IsRefused()
    {
        using var temp = new TestPaths.TempFolder();
        var compress = CliRunner.Run("compress", Vgg, "--data", Validation, "--max-validation-images", "100", "--methods", "iq", "--bits", "7",
            "--max-accuracy-drop", "5", "--no-cache", "-o", temp.File("m.cmodel"), "-v", "quiet");
        Assert.True(compress.ExitCode == 0, compress.Stderr);
        var container = File.ReadAllBytes(temp.File("m.cmodel"));
        var result = CliRunner.Run("export", temp.File("m.cmodel"), "-o", temp.File("m.cmodel"));
        CliRunner.AssertCleanError(result, 2, ErrorCodes.InvalidSetting);
        Assert.Equal(container, File.ReadAllBytes(temp.File("m.cmodel")));
    }

    [Theory]
    [InlineData(1, "MBT1105", "--preprocess", "bogus")]
    [InlineData(2, "MBT1301", "--cache-timeout", "-1")]
    [InlineData(2, "MBT1301", "--cache-max-size", "lots")]
    [InlineData(2, "MBT1301", "--cache-url", "not-a-url")]
    public void Check_RefusesWhatTheRunWouldRefuse(int exitCode, string code, string option, string value)
    {
        using var temp = new TestPaths.TempFolder();
        var result = CliRunner.Run("compress", Vgg, "--data", Validation, "-o", temp.File("x.cmodel"), "--cache-dir", temp.File("cache"), "--check", option, value);
        CliRunner.AssertCleanError(result, exitCode, code);
        Assert.Empty(Directory.GetFileSystemEntries(temp.Path)); // no cache folder made, nothing written
    }

    [Fact]
    public void ACacheHit_ReportsThisRunsFiles_NotThoseOfTheRunThatStoredIt()
    {
        using var temp = new TestPaths.TempFolder();
        Directory.CreateDirectory(temp.File("other"));
        File.Copy(Vgg, temp.File("other/copy.onnx"));
        string[] Args(string model, string output) => ["compress", model, "--data", Validation, "--max-validation-images", "100", "--methods", "iq", "--bits", "7",
            "--max-accuracy-drop", "5", "--cache-dir", temp.File("cache"), "-o", output, "--json"];
        var first = CliRunner.Run(Args(Vgg, temp.File("a.cmodel")));
        Assert.True(first.ExitCode == 0, first.Stderr);
        var second = CliRunner.Run(Args(temp.File("other/copy.onnx"), temp.File("b.cmodel")));
        Assert.True(second.ExitCode == 0, second.Stderr);
        Assert.Equal("hit", second.Json.GetProperty("cache").GetString());
        Assert.Equal(temp.File("other/copy.onnx"), second.Json.GetProperty("model").GetString());
    }

    [Fact]
    public void APipedTable_KeepsEachValueOnOneLine()
    {
        using var temp = new TestPaths.TempFolder();
        var result = CliRunner.Run("compress", Vgg, "--data", Validation, "--max-validation-images", "100", "--bits", "7", "--ns-ratio", "0.05", "--dc-ratio", "0.5",
            "--max-accuracy-drop", "5", "--no-cache", "-o", temp.File("x.cmodel"), "-v", "quiet");
        Assert.True(result.ExitCode == 0, result.Stderr);
        // At Spectre's default of 80 columns the chosen knobs wrapped over three rows.
        Assert.Contains(result.Stdout.Split('\n'), line => line.Contains("│ fixed ") && line.Contains("bits=7 ns=0.05 dc=0.5 levels=16"));
    }
}

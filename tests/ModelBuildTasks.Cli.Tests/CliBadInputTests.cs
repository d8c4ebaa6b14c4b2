namespace ModelBuildTasks.Cli.Tests;

/// <summary>
/// Inputs a review of the command line found ending in an internal error, a silently destroyed file or a check that
/// passed what the run then refused: each is a coded error on stderr, before any work.
/// </summary>
public class CliBadInputTests
{
    static readonly string Vgg = Path.Combine(TestPaths.RepoRoot, "samples/models/fashion_vgg.onnx");
    static readonly string Validation = TestPaths.FashionValidation;
    static readonly string Container = Path.Combine(TestPaths.RepoRoot, "tests/ModelBuildTasks.Engine.Tests/Fixtures/container-v1.cmodel");

    [Fact]
    public void TwoOutputsNamingOneFile_AreRefused_BeforeAnyWork()
    {
        using var temp = new TestPaths.TempFolder();
        string[] Compress(params string[] outputs) => ["compress", Vgg, "--data", Validation, "--no-cache", .. outputs];
        string[][] runs =
        [
            Compress("-o", temp.File("x.cmodel"), "--report", temp.File("x.cmodel")),
            Compress("-o", temp.File("x.cmodel"), "--wrapper", temp.File("x.cmodel")),
            Compress("-o", temp.File("report.md"), "--report", temp.File("report.json")), // the report's Markdown beside it
            Compress("-o", temp.File("x.cmodel"), "--report", temp.File("r.json"), "--wrapper", temp.File("r.html")),
        ];
        foreach (var args in runs)
        {
            var result = CliRunner.Run(args);
            CliRunner.AssertCleanError(result, 2, ErrorCodes.InvalidSetting);
            Assert.Contains("name the same file", result.Stderr);
        }
        Assert.Empty(Directory.GetFileSystemEntries(temp.Path));
    }

    [Fact]
    public void AnOutputThatIsALinkOrAFifo_IsRefused_AndLeftAsItIs()
    {
        using var temp = new TestPaths.TempFolder();
        File.WriteAllText(temp.File("target.onnx"), "the user's file");
        File.CreateSymbolicLink(temp.File("link.onnx"), temp.File("target.onnx"));
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", [temp.File("fifo.onnx")])) mkfifo.WaitForExit();
        foreach (var (output, kind) in new[] { ("link.onnx", "a symbolic link"), ("fifo.onnx", "a FIFO") })
        {
            var result = CliRunner.Run("export", Container, "-o", temp.File(output));
            CliRunner.AssertCleanError(result, 2, ErrorCodes.InvalidSetting);
            Assert.Contains($"--output is {kind}", result.Stderr);
        }
        Assert.NotNull(new FileInfo(temp.File("link.onnx")).LinkTarget);
        Assert.Equal("the user's file", File.ReadAllText(temp.File("target.onnx")));
        Assert.Equal(3, Directory.GetFileSystemEntries(temp.Path).Length);
    }

    [Fact]
    public void Check_CreatesNoFolder_AndRefusesFineTuningWithoutAnAddOnItCanStart()
    {
        using var temp = new TestPaths.TempFolder();
        var ok = CliRunner.Run("compress", Vgg, "--data", Validation, "--no-cache", "--check", "-o", temp.File("a/b/x.cmodel"));
        Assert.True(ok.ExitCode == 0, ok.Stderr);
        Assert.False(Directory.Exists(temp.File("a")));

        File.WriteAllText(temp.File("notes.txt"), "not a program");
        string[] fineTuned = ["compress", Vgg, "--data", Validation, "--train-data", Validation, "--fine-tune-epochs", "1", "--no-cache", "--check", "-o", temp.File("x.cmodel")];
        foreach (var (tool, message) in new[] { (temp.File("missing.dll"), "a file that does not exist"), (temp.File("notes.txt"), "neither a .dll nor executable"), (temp.Path, "names a folder") })
        {
            var result = CliRunner.RunWith(new Dictionary<string, string?> { ["MBT_TRAINING_TOOL"] = tool }, fineTuned);
            CliRunner.AssertCleanError(result, 2, ErrorCodes.InvalidSetting);
            Assert.Contains("MBT_TRAINING_TOOL", result.Stderr);
            Assert.Contains(message, result.Stderr);
        }
    }

    [Fact]
    public void TheCliNamedAsItsOwnTrainingAddOn_IsRefused_NotStartedAgainWithoutEnd()
    {
        // dotnet-compress-model.dll for dotnet-compress-model-train.dll: train forwarded to itself, 72 processes in 6 s.
        using var temp = new TestPaths.TempFolder();
        var self = Path.Combine(AppContext.BaseDirectory, "dotnet-compress-model.dll");
        var result = CliRunner.RunWith(new Dictionary<string, string?> { ["MBT_TRAINING_TOOL"] = self },
            "train", Vgg, "--train-data", Validation, "--epochs", "1", "-o", temp.File("t.onnx"));
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("error MBT1301", result.Stderr);
        Assert.Contains("MBT_TRAINING_TOOL must name dotnet-compress-model-train.dll", result.Stderr);
        Assert.False(File.Exists(temp.File("t.onnx")));
    }

    [Theory]
    [InlineData(32, 1, 3L, "MBT1104", "the dataset's images are 1x32x32")] // another image size: libtorch stopped at the first batch
    [InlineData(28, 3, 3L, "MBT1104", "the dataset's images are 3x28x28")] // RGB for a grey model
    [InlineData(28, 1, 10L, "MBT1106", "has label 10, but the model has 10 classes")] // MBT1999 from libtorch's loss before
    public void TheAddOn_RefusesTrainingDataThatDoesNotFitTheModel_BeforeTraining(int size, int channels, long label, string code, string message)
    {
        using var temp = new TestPaths.TempFolder();
        var pixels = new byte[4 * channels * size * size];
        Fixtures.WriteNpz(temp.File("t.npz"), ("x", "|u1", [4, channels, size, size], pixels), ("y", "<i8", [4], Fixtures.Bytes([0L, 1L, 2L, label])));
        var result = CliRunner.RunWith(new Dictionary<string, string?> { ["MBT_TRAINING_TOOL"] = CliRunner.TrainingTool },
            "train", Vgg, "--train-data", temp.File("t.npz"), "--epochs", "1", "-o", temp.File("t.onnx"));
        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"error {code}", result.Stderr);
        Assert.Contains(message, result.Stderr);
        Assert.DoesNotContain("MBT1999", result.Stderr);
        Assert.False(File.Exists(temp.File("t.onnx")));
    }

    [Fact]
    public void EmptyPaths_AndNumbersBeyondTheirRange_AreUsageErrors()
    {
        using var temp = new TestPaths.TempFolder();
        string[][] runs =
        [
            ["compress", "", "--data", Validation, "-o", temp.File("x.cmodel")],
            ["compress", Vgg, "--data", Validation, "-o", ""],
            ["compress", Vgg, "--data", Validation, "-o", temp.File("x.cmodel"), "--wrapper", " "],
            ["export", Container, "-o", ""],
            ["cache", "list", "--cache-dir", ""],
            ["compress", Vgg, "--data", Validation, "-o", temp.File("x.cmodel"), "--methods", ""], // an unset shell variable: not the default methods
        ];
        foreach (var args in runs)
        {
            var result = CliRunner.Run(args);
            CliRunner.AssertCleanError(result, 2, ErrorCodes.InvalidSetting);
            Assert.Contains("an empty value", result.Stderr);
        }
        var fine = CliRunner.Run("compress", Vgg, "--data", Validation, "-o", temp.File("x.cmodel"), "--check", "--resolution", "1e-9");
        CliRunner.AssertCleanError(fine, 2, ErrorCodes.InvalidSetting);
        Assert.Contains("resolution must be in [0.001, 0.5]", fine.Stderr);
        var timeout = CliRunner.Run("compress", Vgg, "--data", Validation, "-o", temp.File("x.cmodel"), "--check", "--cache-timeout", "1e300");
        CliRunner.AssertCleanError(timeout, 2, ErrorCodes.InvalidSetting);
        Assert.Contains("--cache-timeout must be", timeout.Stderr);
        foreach (var (skip, count, message) in new[] { ("2147483647", "5", "needs 2147483652 images"), ("-1", "5", "--skip must be 0 or more") })
        {
            var result = CliRunner.Run("subset", Validation, "--skip", skip, "--count", count, "-o", temp.File("s-images-idx3-ubyte.gz"));
            CliRunner.AssertCleanError(result, 2, ErrorCodes.InvalidSetting);
            Assert.Contains(message, result.Stderr);
        }
        Assert.Empty(Directory.GetFileSystemEntries(temp.Path));
    }

    [Fact]
    public void AModelAlreadyQuantized_IsSaidToBe_NotAnInternalError()
    {
        using var temp = new TestPaths.TempFolder();
        // An int8 ONNX (QuantizeLinear/DequantizeLinear around the weights), as another tool or `export` writes one.
        var (quantized, _) = ModelBuildTasks.Passes.Quantization.QdqQuantizer.Quantize(TestModels.Plain(), ModelBuildTasks.Data.DatasetLoader.Load(Validation, limit: 32));
        ModelBuildTasks.Graph.ModelFile.Save(quantized, temp.File("int8.onnx"));
        var result = CliRunner.Run("compress", temp.File("int8.onnx"), "--data", Validation, "--no-cache", "-o", temp.File("again.cmodel"));
        CliRunner.AssertCleanError(result, 1, ErrorCodes.UnsupportedOperator);
        Assert.Contains("the model is already quantized", result.Stderr);
        Assert.False(File.Exists(temp.File("again.cmodel")));
    }
}

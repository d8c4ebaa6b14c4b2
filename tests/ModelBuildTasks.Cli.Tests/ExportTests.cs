using ModelBuildTasks.Packaging;

namespace ModelBuildTasks.Cli.Tests;

/// <summary><c>export CONTAINER -o OUT.onnx</c>: the decoded model, atomically written; errors coded.</summary>
public class ExportTests
{
    static readonly string Vgg = Path.Combine(TestPaths.RepoRoot, "samples/models/fashion_vgg.onnx");

    static string Compressed(TestPaths.TempFolder temp)
    {
        var result = CliRunner.Run("compress", Vgg, "--data", TestPaths.FashionTest, "--max-validation-images", "200", "--methods", "iq", "--bits", "7",
            "--no-cache", "-o", temp.File("vgg.cmodel"), "--verbosity", "quiet");
        Assert.True(result.ExitCode == 0, result.Stderr);
        return temp.File("vgg.cmodel");
    }

    [Fact]
    public void Export_WritesTheDecodedOnnx_ThatRunsLikeTheContainer()
    {
        using var temp = new TestPaths.TempFolder();
        var container = Compressed(temp);
        var result = CliRunner.Run("export", container, "-o", temp.File("out/decoded.onnx"));
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Contains("decoded.onnx", result.Stdout);

        // The very bytes the runtime hands to ONNX Runtime, and nothing else left in the folder (no temp file).
        Assert.Equal(ContainerPackaging.ToOnnx(File.ReadAllBytes(container)), File.ReadAllBytes(temp.File("out/decoded.onnx")));
        Assert.Equal(["decoded.onnx"], Directory.GetFiles(temp.File("out")).Select(Path.GetFileName));
        var inspect = CliRunner.Run("inspect", temp.File("out/decoded.onnx"), "--json");
        Assert.True(inspect.Json.GetProperty("ops").GetProperty("DequantizeLinear").GetInt32() > 0);
        double Accuracy(string model) => CliRunner.Run("evaluate", model, "--data", TestPaths.FashionTest, "--limit", "300", "--latency-samples", "1", "--json").Json.GetProperty("accuracy").GetDouble();
        Assert.Equal(Accuracy(container), Accuracy(temp.File("out/decoded.onnx")));
    }

    [Fact]
    public void Export_OfAnOnnxModel_IsAnInvalidContainerError_AndLeavesTheOutputAlone()
    {
        using var temp = new TestPaths.TempFolder();
        File.WriteAllText(temp.File("old.onnx"), "keep me");
        var result = CliRunner.Run("export", Vgg, "-o", temp.File("old.onnx"));
        CliRunner.AssertCleanError(result, 1, ErrorCodes.InvalidContainer);
        Assert.Contains("an ONNX model, not a .cmodel container: it needs no export", result.Stderr);
        Assert.Equal("keep me", File.ReadAllText(temp.File("old.onnx")));
    }

    [Fact]
    public void AContainerDamagedInItsMagic_OrEmpty_IsABadContainer_NotABadOnnxModel()
    {
        using var temp = new TestPaths.TempFolder();
        var bytes = File.ReadAllBytes(Compressed(temp));
        bytes[0] ^= 1;
        File.WriteAllBytes(temp.File("damaged.cmodel"), bytes);
        File.WriteAllBytes(temp.File("empty.cmodel"), []);
        foreach (var file in new[] { "damaged.cmodel", "empty.cmodel" })
        {
            foreach (var command in new[] { "inspect", "export" })
            {
                var result = command == "inspect" ? CliRunner.Run("inspect", temp.File(file)) : CliRunner.Run("export", temp.File(file), "-o", temp.File("x.onnx"));
                CliRunner.AssertCleanError(result, 1, ErrorCodes.InvalidContainer);
                Assert.Contains("bad magic", result.Stderr);
            }
        }
    }

    [Fact]
    public void Export_OfADamagedContainer_IsAnInvalidContainerError()
    {
        using var temp = new TestPaths.TempFolder();
        var bytes = File.ReadAllBytes(Compressed(temp));
        File.WriteAllBytes(temp.File("cut.cmodel"), bytes[..(bytes.Length / 2)]);
        var result = CliRunner.Run("export", temp.File("cut.cmodel"), "-o", temp.File("x.onnx"));
        CliRunner.AssertCleanError(result, 1, ErrorCodes.InvalidContainer);
        Assert.False(File.Exists(temp.File("x.onnx")));
    }

    [Fact]
    public void Export_MissingContainer_UnwritableOutput_AndMissingOutput_AreCodedErrors()
    {
        using var temp = new TestPaths.TempFolder();
        CliRunner.AssertCleanError(CliRunner.Run("export", temp.File("none.cmodel"), "-o", temp.File("x.onnx")), 1, ErrorCodes.ModelNotFound);
        var container = Compressed(temp);
        CliRunner.AssertCleanError(CliRunner.Run("export", container, "-o", temp.Path), 1, ErrorCodes.FileSystemRefused);
        CliRunner.AssertCleanError(CliRunner.Run("export", container, "-o", Path.Combine(container, "x.onnx")), 1, ErrorCodes.FileSystemRefused); // a file where a folder goes
        CliRunner.AssertCleanError(CliRunner.Run("export", container), 2, ErrorCodes.InvalidSetting);
    }
}

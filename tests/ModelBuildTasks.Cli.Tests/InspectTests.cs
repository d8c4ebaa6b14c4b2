using ModelBuildTasks.Graph;

namespace ModelBuildTasks.Cli.Tests;

public class InspectTests
{
    [Fact]
    public void Json_ForThirdPartyResNet18()
    {
        var result = CliRunner.Run("inspect", TestPaths.ResNet18, "--json");
        Assert.Equal(0, result.ExitCode);
        var json = result.Json;
        Assert.Equal(3, json.GetProperty("ir_version").GetInt64());
        Assert.Equal(8, json.GetProperty("opset").GetInt64());
        var ops = json.GetProperty("ops");
        Assert.Equal(22, ops.GetProperty("Conv").GetInt32());
        Assert.Equal(22, ops.GetProperty("BatchNormalization").GetInt32());
        Assert.Equal(9, ops.GetProperty("Add").GetInt32());
        var input = json.GetProperty("inputs")[0];
        Assert.Equal("float", input.GetProperty("type").GetString());
        Assert.Equal(["1", "3", "224", "224"], input.GetProperty("shape").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(new FileInfo(TestPaths.ResNet18).Length, json.GetProperty("bytes").GetInt64());
        Assert.True(json.GetProperty("parameters").GetInt64() > 11_000_000);
        Assert.Equal(0, json.GetProperty("unsupported").GetArrayLength());
    }

    // A container holds the converted model already: "Converted ... at load" is said of the file loading converts.
    [Fact]
    public void AUint8InputModel_IsShownConverted_AndItsContainerIsNot()
    {
        using var temp = new TestPaths.TempFolder();
        ModelFile.Save(ExportForms.Pixels().Exported, temp.File("pixels.onnx"));
        var compress = CliRunner.Run("compress", temp.File("pixels.onnx"), "--data", TestPaths.FashionValidation, "--search", "fixed", "--methods", "iq",
            "--bits", "7", "--target-accuracy", "0", "--no-cache", "-o", temp.File("pixels.cmodel"));
        Assert.True(compress.ExitCode == 0, compress.Stderr);
        Assert.Contains("warning MBT1112: the model's input is uint8", compress.Stderr);

        var model = CliRunner.Run("inspect", temp.File("pixels.onnx"));
        var container = CliRunner.Run("inspect", temp.File("pixels.cmodel"));

        Assert.Contains("Converted    uint8 input cast to float: a float input of pixel values, at load", model.Stdout);
        Assert.Contains("input  float [N,1,28,28]", model.Stdout);
        Assert.DoesNotContain("Converted", container.Stdout);
        Assert.Contains("Preprocess   scale=1;mean=0;std=1", container.Stdout);
    }

    [Fact]
    public void Text_ListsShapesOpsAndUnsupportedOperators()
    {
        using var temp = new TestPaths.TempFolder();
        var model = TestModels.Plain();
        model.Graph.Nodes.Add(new Node("strange", "NonMaxSuppression", ["logits"], ["boxes"]));
        ModelFile.Save(model, temp.File("m.onnx"));

        var result = CliRunner.Run("inspect", temp.File("m.onnx"));
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("input  float [N,1,28,28]", result.Stdout);
        Assert.Contains("logits  float [N,10]", result.Stdout);
        Assert.Contains("Conv 2", result.Stdout);
        Assert.Contains("NonMaxSuppression (node 'strange')", result.Stdout);
    }

    [Fact]
    public void AContainer_ShowsWhatItsMetadataRecords_AndItsNonzeroWeights()
    {
        using var temp = new TestPaths.TempFolder();
        var compress = CliRunner.Run("compress", Path.Combine(TestPaths.RepoRoot, "samples/models/fashion_vgg.onnx"), "--data", TestPaths.FashionValidation,
            "--max-validation-images", "300", "--methods", "iq,dc", "--bits", "7", "--dc-ratio", "0.5", "-o", temp.File("m.cmodel"), "--no-cache", "--json");
        Assert.True(compress.ExitCode == 0, compress.Stderr);
        var report = compress.Json;

        var text = CliRunner.Run("inspect", temp.File("m.cmodel"));
        Assert.Equal(0, text.ExitCode);
        Assert.Contains(".cmodel container, version 2", text.Stdout);
        Assert.Contains("methods=iq,dc", text.Stdout);
        Assert.Matches(@"Validation   accuracy \d+\.\d\d% -> \d+\.\d\d%", text.Stdout);
        Assert.DoesNotContain("Images ", text.Stdout); // 8-bit data: image files are preprocessed as they were

        var json = CliRunner.Run("inspect", temp.File("m.cmodel"), "--json").Json;
        Assert.Equal(report.GetProperty("final_accuracy").GetDouble(), json.GetProperty("container").GetProperty("accuracy").GetProperty("final").GetDouble(), 6);
        Assert.Equal("accuracy", json.GetProperty("container").GetProperty("accuracy").GetProperty("measure").GetString());
        // The same count the report gives: half the weights pruned shows, padding zeros are not weights.
        Assert.Equal(report.GetProperty("parameters_compressed").GetInt64(), json.GetProperty("nonzero_parameters").GetInt64());
        Assert.True(json.GetProperty("nonzero_parameters").GetInt64() < json.GetProperty("parameters").GetInt64() * 0.6);
    }

    [Fact]
    public void AContainerOfFloatData_ShowsHowImageFilesArePreprocessed()
    {
        // Floats in 0..1 are fed as they are (scale=1); an image file's pixels are first divided by 255, which PredictImage does.
        using var temp = new TestPaths.TempFolder();
        var images = ModelBuildTasks.Data.DatasetLoader.Load(TestPaths.FashionTest, limit: 200);
        var labels = images.Labels!.Select(l => (long)l).ToArray();
        Fixtures.WriteNpz(temp.File("d.npz"), ("x", "<f4", [200, 1, 28, 28], Fixtures.Bytes(images.Pixels)), ("y", "<i8", [200], Fixtures.Bytes(labels)));
        var compress = CliRunner.Run("compress", Path.Combine(TestPaths.RepoRoot, "samples/models/fashion_vgg.onnx"), "--data", temp.File("d.npz"),
            "--search", "fixed", "--methods", "iq", "--bits", "7", "--target-accuracy", "0", "-o", temp.File("m.cmodel"), "--no-cache");
        Assert.True(compress.ExitCode == 0, compress.Stderr);

        var text = CliRunner.Run("inspect", temp.File("m.cmodel"));

        Assert.Contains("Preprocess   scale=1;", text.Stdout);
        Assert.Contains("Images       scale=0.003921569;", text.Stdout);
    }

    [Theory]
    [InlineData("truncated")]
    [InlineData("random")]
    [InlineData("missing")]
    public void BadModels_FailCleanly(string kind)
    {
        using var temp = new TestPaths.TempFolder();
        var path = temp.File("m.onnx");
        var good = OnnxExport.ToBytes(TestModels.Plain());
        if (kind == "truncated") File.WriteAllBytes(path, good[..(good.Length * 2 / 3)]);
        if (kind == "random") File.WriteAllBytes(path, Enumerable.Range(0, 5000).Select(i => (byte)(i * 31 % 256)).ToArray());
        var result = CliRunner.Run("inspect", path, "--json");
        CliRunner.AssertCleanJsonError(result, 1, kind == "missing" ? ErrorCodes.ModelNotFound : ErrorCodes.InvalidModel);
        Assert.Contains(path, result.Stderr);
    }

    [Fact]
    public void MissingArgument_IsAUsageError()
    {
        CliRunner.AssertCleanError(CliRunner.Run("inspect"), 2, ErrorCodes.InvalidSetting);
        CliRunner.AssertCleanJsonError(CliRunner.Run("inspect", "--json"), 2, ErrorCodes.InvalidSetting); // a parse error, as JSON too
    }
}

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
        CliRunner.AssertCleanError(result, 1, kind == "missing" ? ErrorCodes.ModelNotFound : ErrorCodes.InvalidModel);
        Assert.Contains(path, result.Stderr);
    }

    [Fact]
    public void MissingArgument_IsAUsageError()
    {
        CliRunner.AssertCleanError(CliRunner.Run("inspect"), 2, ErrorCodes.InvalidSetting);
    }
}

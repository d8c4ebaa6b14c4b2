using ModelBuildTasks.Graph;

namespace ModelBuildTasks.Cli.Tests;

/// <summary>Issue #12 through the CLI: hostile inputs end in coded errors (exit 1), never exit 3 or a hang, and ONNX Runtime's own log stays off stderr.</summary>
public class CliHostileInputTests
{
    static readonly string Validation = TestPaths.FashionValidation;

    [Fact]
    public void LabelsBeyondTheClasses_FailCompressAndEvaluate_InsteadOfMeetingTheTarget()
    {
        using var temp = new TestPaths.TempFolder();
        ModelFile.Save(TestModels.Plain(), temp.File("m.onnx"));
        ModelBuildTasks.Data.IdxFormat.Write(temp.File("v-images-idx3-ubyte"), [50, 28, 28], new byte[50 * 784]);
        ModelBuildTasks.Data.IdxFormat.Write(temp.File("v-labels-idx1-ubyte"), [50], Enumerable.Repeat((byte)255, 50).ToArray());
        var compress = CliRunner.Run("compress", temp.File("m.onnx"), "--data", temp.File("v-images-idx3-ubyte"), "-o", temp.File("m.cmodel"), "--no-cache", "--methods", "iq", "--bits", "7");
        CliRunner.AssertCleanError(compress, 1, ErrorCodes.LabelOutOfRange);
        Assert.False(File.Exists(temp.File("m.cmodel")));
        var evaluate = CliRunner.Run("evaluate", temp.File("m.onnx"), "--data", temp.File("v-images-idx3-ubyte"), "--latency-samples", "0");
        CliRunner.AssertCleanError(evaluate, 1, ErrorCodes.LabelOutOfRange);
    }

    [Fact]
    public void OnnxRuntimesOwnLogLines_DoNotReachStderr_OnlyTheCodedError()
    {
        using var temp = new TestPaths.TempFolder();
        var model = TestModels.Plain();
        var relu = model.Graph.Nodes.First(n => n.OpType == "Relu");
        model.Graph.Nodes[model.Graph.Nodes.IndexOf(relu)] = new Node(relu.Name, "NoSuchOperator", relu.Inputs, relu.Outputs, "");
        ModelFile.Save(model, temp.File("m.onnx"));
        var result = CliRunner.Run("evaluate", temp.File("m.onnx"), "--data", Validation, "--limit", "20", "--latency-samples", "1");
        CliRunner.AssertCleanError(result, 1, ErrorCodes.RuntimeFailure);
        Assert.DoesNotContain("[E:onnxruntime", result.Stderr);
        Assert.DoesNotContain("[W:onnxruntime", result.Stderr);
        Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.Contains("error MBT"));
    }
}

using System.Diagnostics;
using ModelBuildTasks.Graph;

namespace ModelBuildTasks.Cli.Tests;

/// <summary>
/// The 224x224 classifier the benchmarks measure at ImageNet size (samples/ResNet18Classifier): the
/// restored ResNet-18 trunk plus the committed head compose into a working Fashion-MNIST classifier.
/// </summary>
public class ResNet18ClassifierTests
{
    [Fact]
    public void Compose_GivesA224ClassifierWithASymbolicBatch_ThatClassifiesFashionMnist()
    {
        using var temp = new TestPaths.TempFolder();
        var project = Path.Combine(TestPaths.RepoRoot, "samples/ResNet18Classifier");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "run", "--project", project, "-c", "Release", "--no-build", "--", "compose", "-o", temp.File("r18.onnx") }) start.ArgumentList.Add(a);
        using (var process = Process.Start(start)!)
        {
            var stderr = process.StandardError.ReadToEndAsync();
            process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            Assert.True(process.ExitCode == 0, stderr.Result);
        }

        var model = ModelFile.Load(temp.File("r18.onnx"));
        Assert.Equal("N", model.Graph.Inputs[0].Shape![0].Symbol);
        Assert.Equal([3L, 224, 224], model.Graph.Inputs[0].Shape!.Dims.Skip(1).Select(d => d.Value));
        Assert.Equal("logits", model.Graph.Outputs.Single().Name);
        Assert.Equal(22, model.Graph.Nodes.Count(n => n.OpType == "BatchNormalization")); // the trunk's own, unfolded: network slimming has its scale factors

        // evaluate takes the recorded preprocessing (resize=224x224;channels=3); the head was trained on other images (the training subset).
        var result = CliRunner.Run("evaluate", temp.File("r18.onnx"), "--data", TestPaths.FashionTest, "--limit", "100", "--latency-samples", "1", "--json");
        Assert.Equal(0, result.ExitCode);
        Assert.InRange(result.Json.GetProperty("accuracy").GetDouble(), 0.7, 1.0);
    }
}

using ModelBuildTasks.Data;
using ModelBuildTasks.Graph;

namespace ModelBuildTasks.Cli.Tests;

public class EvaluateTests
{
    [Fact]
    public void Json_OnTheCommittedSubset_ReportsAccuracyAndLatency()
    {
        using var temp = new TestPaths.TempFolder();
        ModelFile.Save(TestModels.Plain(), temp.File("m.onnx"));
        var result = CliRunner.Run("evaluate", temp.File("m.onnx"), "--data", TestPaths.FashionTest, "--threads", "1", "--latency-samples", "5", "--json");
        Assert.Equal(0, result.ExitCode);
        var json = result.Json;
        Assert.Equal(2000, json.GetProperty("images").GetInt32());
        Assert.Equal("labels", json.GetProperty("measure").GetString());
        Assert.InRange(json.GetProperty("accuracy").GetDouble(), 0, 1);
        Assert.True(json.GetProperty("latency_ms_median").GetDouble() > 0);
        Assert.True(json.GetProperty("latency_ms_p90").GetDouble() >= json.GetProperty("latency_ms_median").GetDouble());
        Assert.Equal(1, json.GetProperty("threads").GetInt32());
        Assert.Equal(1, json.GetProperty("single_image_threads").GetInt32());
        Assert.Contains("info: stage evaluate, 2000/2000 images", result.Stderr); // progress goes to stderr, data to stdout

        // On two threads, single images run on whichever of one and two threads the runner measured faster.
        var two = CliRunner.Run("evaluate", temp.File("m.onnx"), "--data", TestPaths.FashionTest, "--threads", "2", "--latency-samples", "5", "--json");
        Assert.Equal(0, two.ExitCode);
        Assert.Equal(2, two.Json.GetProperty("threads").GetInt32());
        Assert.Contains(two.Json.GetProperty("single_image_threads").GetInt32(), new[] { 1, 2 });
    }

    [Fact]
    public void AChannelsLastModel_IsEvaluatedAsCompressTakesIt_AndComparesWithItsContainer()
    {
        using var temp = new TestPaths.TempFolder();
        var b = new GraphBuilder("tf", seed: 3);
        var x = b.InputChannelsLast("image", 28, 28, 1);
        b.Output(b.Linear(b.Flatten(b.GlobalAveragePool(b.Relu(b.Conv(x, 8)))), 10), "logits");
        ModelFile.Save(b.Build(), temp.File("tf.onnx"));
        var compressed = CliRunner.Run("compress", temp.File("tf.onnx"), "--data", TestPaths.FashionTest, "--max-validation-images", "200", "--methods", "iq", "--bits", "7",
            "--max-accuracy-drop", "100", "--no-cache", "-o", temp.File("tf.cmodel"), "--verbosity", "quiet");
        Assert.True(compressed.ExitCode == 0, compressed.Stderr);

        var original = CliRunner.Run("evaluate", temp.File("tf.onnx"), "--data", TestPaths.FashionTest, "--limit", "200", "--latency-samples", "0", "--json");
        Assert.True(original.ExitCode == 0, original.Stderr);
        // Without labels the reference model is the truth: the channels-last original against its channels-first container.
        File.Copy(TestPaths.FashionTest, temp.File("u-images-idx3-ubyte.gz"));
        var against = CliRunner.Run("evaluate", temp.File("tf.cmodel"), "--data", temp.File("u-images-idx3-ubyte.gz"), "--limit", "200", "--latency-samples", "0",
            "--reference", temp.File("tf.onnx"), "--json");
        Assert.True(against.ExitCode == 0, against.Stderr);
        Assert.Equal("agreement", against.Json.GetProperty("measure").GetString());
        Assert.True(against.Json.GetProperty("accuracy").GetDouble() > 0.9, against.Stdout); // 7-bit weights agree on nearly every image
    }

    [Fact]
    public void NoLatencySamples_SaysNotMeasured_RatherThanZero()
    {
        using var temp = new TestPaths.TempFolder();
        ModelFile.Save(TestModels.Plain(), temp.File("m.onnx"));
        var json = CliRunner.Run("evaluate", temp.File("m.onnx"), "--data", TestPaths.FashionTest, "--limit", "20", "--latency-samples", "0", "--json");
        Assert.Equal(0, json.ExitCode);
        Assert.False(json.Json.TryGetProperty("latency_ms_median", out _)); // the JSON leaves out what was not measured
        Assert.False(json.Json.TryGetProperty("latency_ms_p90", out _));
        Assert.True(json.Json.TryGetProperty("accuracy", out _));
        var text = CliRunner.Run("evaluate", temp.File("m.onnx"), "--data", TestPaths.FashionTest, "--limit", "20", "--latency-samples", "0");
        Assert.Contains("Latency      not measured", text.Stdout);
    }

    [Fact]
    public void UnlabeledData_ReportsAgreement()
    {
        using var temp = new TestPaths.TempFolder();
        ModelFile.Save(TestModels.Plain(seed: 1), temp.File("a.onnx"));
        ModelFile.Save(TestModels.Plain(seed: 9), temp.File("b.onnx"));
        IdxFormat.Write(temp.File("u-images-idx3-ubyte"), [50, 28, 28], Enumerable.Range(0, 50 * 784).Select(i => (byte)(i * 37 % 256)).ToArray());

        var self = CliRunner.Run("evaluate", temp.File("a.onnx"), "--data", temp.File("u-images-idx3-ubyte"), "--latency-samples", "1", "--json");
        Assert.Equal(0, self.ExitCode);
        Assert.Equal("agreement", self.Json.GetProperty("measure").GetString());
        Assert.Equal(temp.File("a.onnx"), self.Json.GetProperty("reference").GetString()); // the model against itself: a script can tell
        Assert.Equal(1.0, self.Json.GetProperty("accuracy").GetDouble());

        var other = CliRunner.Run("evaluate", temp.File("a.onnx"), "--data", temp.File("u-images-idx3-ubyte"), "--reference", temp.File("b.onnx"), "--latency-samples", "1", "--json");
        Assert.Equal(0, other.ExitCode);
        Assert.True(other.Json.GetProperty("accuracy").GetDouble() < 1.0, "two differently seeded models should not agree everywhere");
        Assert.Equal(temp.File("b.onnx"), other.Json.GetProperty("reference").GetString());
    }

    [Fact]
    public void AReference_IsWhatIsMeasuredAgainst_EvenWhenTheDataHasLabels()
    {
        // Asked for, the agreement with the reference is reported, not silently the accuracy against the labels.
        using var temp = new TestPaths.TempFolder();
        ModelFile.Save(TestModels.Plain(seed: 1), temp.File("a.onnx"));
        var self = CliRunner.Run("evaluate", temp.File("a.onnx"), "--data", TestPaths.FashionTest, "--limit", "50", "--reference", temp.File("a.onnx"), "--latency-samples", "0", "--json");
        Assert.True(self.ExitCode == 0, self.Stderr);
        Assert.Equal("agreement", self.Json.GetProperty("measure").GetString());
        Assert.Equal(1.0, self.Json.GetProperty("accuracy").GetDouble()); // an untrained model's accuracy is far below
        var labels = CliRunner.Run("evaluate", temp.File("a.onnx"), "--data", TestPaths.FashionTest, "--limit", "50", "--latency-samples", "0", "--json");
        Assert.Equal("labels", labels.Json.GetProperty("measure").GetString());
        Assert.False(labels.Json.TryGetProperty("reference", out _)); // against the labels, no model is agreed with
        Assert.True(labels.Json.GetProperty("accuracy").GetDouble() < 0.9);
    }

    [Fact]
    public void TheModelsOwnPreprocessing_IsUsedWhenNoneIsGiven_AsCompressDoes()
    {
        using var temp = new TestPaths.TempFolder();
        var b = new GraphBuilder("resized", seed: 3);
        b.Output(b.Linear(b.Flatten(b.GlobalAveragePool(b.Conv(b.Input("x", 3, 32, 32), 4))), 10), "logits");
        var model = b.Build();
        model.Metadata["preprocess"] = "resize=32x32;channels=3";
        ModelFile.Save(model, temp.File("m.onnx"));

        var result = CliRunner.Run("evaluate", temp.File("m.onnx"), "--data", TestPaths.FashionTest, "--limit", "20", "--latency-samples", "1", "--json");
        Assert.Equal(0, result.ExitCode);
        Assert.Equal(20, result.Json.GetProperty("images").GetInt32());
        // An explicit SPEC still wins: the 28x28 images then do not fit the 32x32 input.
        CliRunner.AssertCleanError(CliRunner.Run("evaluate", temp.File("m.onnx"), "--data", TestPaths.FashionTest, "--limit", "2", "--preprocess", "scale=1/255"), 1, ErrorCodes.InputShapeMismatch);
    }

    [Fact]
    public void ImageSizeMismatch_FailsCleanly()
    {
        var result = CliRunner.Run("evaluate", TestPaths.ResNet18, "--data", TestPaths.FashionTest, "--limit", "2");
        CliRunner.AssertCleanError(result, 1, ErrorCodes.InputShapeMismatch);
        Assert.Contains("1x28x28", result.Stderr);
    }

    [Fact]
    public void LabelCountMismatch_FailsCleanly()
    {
        using var temp = new TestPaths.TempFolder();
        ModelFile.Save(TestModels.Plain(), temp.File("m.onnx"));
        IdxFormat.Write(temp.File("d-images-idx3-ubyte.gz"), [3, 28, 28], new byte[3 * 784]);
        IdxFormat.Write(temp.File("d-labels-idx1-ubyte.gz"), [4], [0, 1, 2, 3]);
        CliRunner.AssertCleanError(CliRunner.Run("evaluate", temp.File("m.onnx"), "--data", temp.File("d-images-idx3-ubyte.gz")), 1, ErrorCodes.LabelCountMismatch);
    }

    [Fact]
    public void MissingDataset_AndBadPreprocessing_FailCleanly()
    {
        using var temp = new TestPaths.TempFolder();
        ModelFile.Save(TestModels.Plain(), temp.File("m.onnx"));
        CliRunner.AssertCleanError(CliRunner.Run("evaluate", temp.File("m.onnx"), "--data", temp.File("nothing.gz")), 1, ErrorCodes.DatasetNotFound);
        CliRunner.AssertCleanError(CliRunner.Run("evaluate", temp.File("m.onnx"), "--data", TestPaths.FashionTest, "--preprocess", "resize=big"), 1, ErrorCodes.InvalidPreprocessing);
    }

    [Fact]
    public void AModelOfNoFixedImageSize_IsEvaluatedAtTheDataSize_AsCompressRunsIt()
    {
        using var temp = new TestPaths.TempFolder();
        var model = TestModels.Plain();
        ModelFile.Save(model, temp.File("fixed.onnx"));
        var input = model.Graph.Inputs[0];
        model.Graph.Inputs[0] = input with { Shape = new TensorShape([Dim.Named("N"), input.Shape![1], Dim.Named("H"), Dim.Named("W")]) };
        ModelFile.Save(model, temp.File("dynamic.onnx"));

        var dynamic = CliRunner.Run("evaluate", temp.File("dynamic.onnx"), "--data", TestPaths.FashionTest, "--limit", "100", "--latency-samples", "0", "--json");
        var against = CliRunner.Run("evaluate", temp.File("fixed.onnx"), "--data", TestPaths.FashionTest, "--limit", "100", "--latency-samples", "0", "--json");

        Assert.True(dynamic.ExitCode == 0, dynamic.Stderr);
        Assert.Equal(against.Json.GetProperty("accuracy").GetDouble(), dynamic.Json.GetProperty("accuracy").GetDouble());
    }
}

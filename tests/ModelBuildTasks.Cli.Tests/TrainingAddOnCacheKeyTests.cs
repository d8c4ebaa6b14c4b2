namespace ModelBuildTasks.Cli.Tests;

/// <summary>
/// A fine-tuned model is the training add-on's work: a compression that fine-tunes is cached under the
/// add-on's identity too, so another add-on is never served its model, while a post-training compression
/// does not depend on the add-on at all. Two builds of the fake add-on (tests/FakeTrainingTool, which
/// returns the model unchanged) that differ only in their version stand in for an upgrade.
/// </summary>
public class TrainingAddOnCacheKeyTests
{
    static string BuildFakeAddOn(TestPaths.TempFolder temp, string version)
    {
        var source = Directory.CreateDirectory(temp.File($"src-{version}")).FullName;
        foreach (var file in Directory.GetFiles(Path.Combine(TestPaths.RepoRoot, "tests/FakeTrainingTool"))) File.Copy(file, Path.Combine(source, Path.GetFileName(file)));
        var output = temp.File($"addon-{version}");
        ToolManifestTests.Dotnet(source, "build", Path.Combine(source, "FakeTrainingTool.csproj"), "-c", "Release", "-o", output, $"-p:Version={version}");
        return Path.Combine(output, "dotnet-compress-model-train.dll");
    }

    [Fact]
    public void AnotherAddOnVersion_MissesTheCache_WhenFineTuning_AndOnlyThen()
    {
        using var temp = new TestPaths.TempFolder();
        var (v1, v2) = (BuildFakeAddOn(temp, "1.0.0"), BuildFakeAddOn(temp, "2.0.0"));
        ModelBuildTasks.Graph.ModelFile.Save(TestModels.Plain(), temp.File("m.onnx"));
        string[] fineTune = ["--fine-tune-epochs", "1", "--train-data", TestPaths.FashionTrain];
        // DC fine-tunes the model it pruned (IQ alone does not), so the add-on runs once per compression.
        string Cache(string addOn, params string[] extra)
        {
            var run = CliRunner.RunWith(new Dictionary<string, string?> { ["MBT_TRAINING_TOOL"] = addOn },
                ["compress", temp.File("m.onnx"), "--data", TestPaths.FashionValidation, "--methods", "iq,dc", "--bits", "6", "--dc-ratio", "0.5", "--max-validation-images", "200",
                 "--target-accuracy", "0", "--cache-dir", temp.File("cache"), "--json", "-o", temp.File("m.cmodel"), .. extra]);
            Assert.True(run.ExitCode == 0, run.Stderr);
            if (extra.Length > 0 && run.Json.GetProperty("cache").GetString() == "miss")
                Assert.True(run.Json.GetProperty("fine_tuning").GetProperty("runs").GetInt32() >= 1); // the add-on really ran
            return run.Json.GetProperty("cache").GetString()!;
        }

        Assert.Equal("miss", Cache(v1, fineTune));
        Assert.Equal("hit", Cache(v1, fineTune));
        Assert.Equal("miss", Cache(v2, fineTune)); // was a hit: version 2 was served what version 1 trained
        Assert.Equal("hit", Cache(v2, fineTune));
        Assert.Equal("hit", Cache(v1, fineTune)); // both kept

        Assert.Equal("miss", Cache(v1));
        Assert.Equal("hit", Cache(v2)); // post-training: the add-on is not part of the key
    }
}

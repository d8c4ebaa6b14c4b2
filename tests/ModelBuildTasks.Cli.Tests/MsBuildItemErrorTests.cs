using ModelBuildTasks.Graph;

namespace ModelBuildTasks.Cli.Tests;

/// <summary>
/// Bad CompressModel items as MSBuild users meet them: every item is checked before any compresses,
/// a setting's error names the project and the item in the metadata's own names, the file system's
/// refusals are coded errors (never a task crash with a stack trace), and a misspelt metadata name is a warning.
/// </summary>
public class MsBuildItemErrorTests
{
    static readonly string Vgg = Path.Combine(TestPaths.RepoRoot, "samples/models/fashion_vgg.onnx");
    static readonly string Resnet = Path.Combine(TestPaths.RepoRoot, "samples/models/fashion_resnet.onnx");

    [Fact]
    public void ABadSettingOnTheSecondItem_FailsBeforeTheFirstCompresses_InMetadataNames()
    {
        using var temp = new TestPaths.TempFolder();
        var (exitCode, output) = MsBuildTask.Build(temp.Path, $"""
            <CompressModel Include="{Vgg}" ValidationData="{TestPaths.FashionTest}" Methods="iq" MaxValidationImages="300" MaxAccuracyDorp="0.5" />
            <CompressModel Include="{Resnet}" ValidationData="{TestPaths.FashionTest}" MaxAccuracyDrop="0,5" />
            """);
        Assert.NotEqual(0, exitCode);
        Assert.Matches(@"compress\.proj : error MBT1301: CompressModel '.*fashion_resnet\.onnx': MaxAccuracyDrop: '0,5' is not a number; write 0\.5", output);
        Assert.Contains("compress.proj : warning MBT1306: CompressModel", output);
        Assert.Contains("'MaxAccuracyDorp', which ModelBuildTasks does not know and ignores: did you mean 'MaxAccuracyDrop'?", output);
        Assert.DoesNotContain("stage baseline", output); // neither item was compressed
        Assert.False(File.Exists(Path.Combine(temp.Path, "out/fashion_vgg/fashion_vgg.cmodel")));
    }

    [Fact]
    public void TheLearningRateAndTheClassNamesCount_AreCheckedBeforeAnyItemCompresses_InMetadataNames()
    {
        // FineTuneLearningRate was no metadata the task passed on (silently ignored); a Labels count was checked only
        // once its item compressed, after every item before it, and named --labels.
        using var temp = new TestPaths.TempFolder();
        var (exitCode, output) = MsBuildTask.Build(temp.Path, $"""
            <CompressModel Include="{Vgg}" ValidationData="{TestPaths.FashionTest}" Methods="iq" MaxValidationImages="300" />
            <CompressModel Include="{Resnet}" ValidationData="{TestPaths.FashionTest}" Labels="a,b" />
            """);
        Assert.NotEqual(0, exitCode);
        Assert.Matches(@"fashion_resnet\.onnx ?: error MBT1301: Labels names 2 classes, the model's output has 10", output);
        Assert.DoesNotContain("stage baseline", output);

        var (rateExitCode, rate) = MsBuildTask.Build(temp.Path, $"""<CompressModel Include="{Vgg}" ValidationData="{TestPaths.FashionTest}" FineTuneLearningRate="fast" />""");
        Assert.NotEqual(0, rateExitCode);
        Assert.Matches(@"error MBT1301: CompressModel '.*fashion_vgg\.onnx': FineTuneLearningRate: 'fast' is not a finite number", rate);
        Assert.DoesNotContain("MBT1306", rate);

        // A range the engine checks is said in metadata names too (it was "bits must be 4 to 7", in neither's words).
        var (bitsExitCode, bits) = MsBuildTask.Build(temp.Path, $"""<CompressModel Include="{Vgg}" ValidationData="{TestPaths.FashionTest}" MinBits="1" />""");
        Assert.NotEqual(0, bitsExitCode);
        Assert.Matches(@"error MBT1301: CompressModel '.*fashion_vgg\.onnx': MinBits must be 2 to 7, not 1", bits);
    }

    [Fact]
    public void AnEngineWarningWithAFile_NamesTheMetadata_Once()
    {
        // The engine says "pass --labels (MSBuild: Labels)"; rewritten in a build, it read "pass Labels (MSBuild: Labels)".
        using var temp = new TestPaths.TempFolder();
        var model = TestModels.Plain();
        model.Metadata["labels"] = string.Join(",", Enumerable.Range(0, 10).Select(i => $"c{i}"));
        ModelFile.Save(model, temp.File("m.onnx"));
        Fixtures.WriteClassFolders(temp.File("data"), [(1, "trouser"), (8, "bag")], perClass: 5);

        var (exitCode, output) = MsBuildTask.Build(temp.Path, """<CompressModel Include="m.onnx" ValidationData="data" Search="fixed" Methods="iq" Bits="7" TargetAccuracy="0" />""");

        Assert.True(exitCode == 0, output);
        Assert.Contains("warning MBT1107", output);
        Assert.Contains("the model's are kept: pass Labels to use the dataset's", output);
        Assert.DoesNotContain("(MSBuild:", output);
    }

    [Fact]
    public void TheSameModelListedTwice_IsSaidToBeTheSameModel_NotTwoToRename()
    {
        using var temp = new TestPaths.TempFolder();
        var (exitCode, output) = MsBuildTask.Build(temp.Path, $"""
            <CompressModel Include="{Vgg}" ValidationData="{TestPaths.FashionTest}" Methods="iq" />
            <CompressModel Include="{Vgg}" ValidationData="{TestPaths.FashionTest}" Methods="iq" Bits="6" ClassName="Other" />
            """);
        Assert.NotEqual(0, exitCode);
        Assert.Contains("error MBT1302", output);
        Assert.Contains("are the same model", output);
        Assert.DoesNotContain("rename one of the model files", output);
    }

    [Fact]
    public void ADesignTimeBuild_GeneratesClassesOnlyForItemsNeverCompressed_ButChecksEveryItem()
    {
        // Once an item was compressed, design-time builds took its last class and skipped the collision checks with it.
        using var temp = new TestPaths.TempFolder();
        Directory.CreateDirectory(temp.File("out/fashion_vgg"));
        File.WriteAllText(temp.File("out/fashion_vgg/fashion_vgg.g.cs"), "// the last compressed class");
        Directory.CreateDirectory(temp.File("other"));
        File.Copy(Vgg, temp.File("other/fashion_vgg.onnx"));

        var (fineExit, fine) = MsBuildTask.BuildWrappers(temp.Path, $"""
            <CompressModel Include="{Vgg}" ValidationData="{TestPaths.FashionTest}" />
            <CompressModel Include="{Resnet}" ValidationData="{TestPaths.FashionTest}" />
            """, embedsModel: false, skipCompressed: true);
        Assert.True(fineExit == 0, fine);
        Assert.False(File.Exists(temp.File("out/fashion_vgg/fashion_vgg.designtime.g.cs")));
        Assert.True(File.Exists(temp.File("out/fashion_resnet/fashion_resnet.designtime.g.cs")));

        var (exitCode, output) = MsBuildTask.BuildWrappers(temp.Path, $"""
            <CompressModel Include="{Vgg}" ValidationData="{TestPaths.FashionTest}" />
            <CompressModel Include="other/fashion_vgg.onnx" ValidationData="{TestPaths.FashionTest}" ClassName="Second" />
            """, embedsModel: false, skipCompressed: true);
        Assert.NotEqual(0, exitCode);
        Assert.Contains("error MBT1302: CompressModel items", output);
    }

    [Theory]
    [InlineData(true)]  // ModelCompressionEnabled=false
    [InlineData(false)] // a design-time build before any compression
    public void TwoItemsThatWouldGenerateOneClass_AreCaught_WhenNothingIsCompressedToo(bool embedsModel)
    {
        using var temp = new TestPaths.TempFolder();
        Directory.CreateDirectory(temp.File("other"));
        File.Copy(Vgg, temp.File("other/fashion_vgg.onnx"));
        var (exitCode, output) = MsBuildTask.BuildWrappers(temp.Path, $"""
            <CompressModel Include="{Vgg}" ValidationData="{TestPaths.FashionTest}" />
            <CompressModel Include="other/fashion_vgg.onnx" ValidationData="{TestPaths.FashionTest}" ClassName="Second" />
            <CompressModel Include="{Resnet}" ValidationData="{TestPaths.FashionTest}" ClassName="FashionVgg" />
            """, embedsModel);
        Assert.NotEqual(0, exitCode);
        Assert.Contains("error MBT1302: CompressModel items", output);
        Assert.Contains("have the same file name", output);
        Assert.Contains("error MBT1303: CompressModel items", output);
        Assert.Contains("both generate the class", output);
        Assert.False(Directory.Exists(temp.File("out/fashion_vgg"))); // nothing generated
    }

    [Fact]
    public void AnOutputFolderThatCannotBeCreated_IsACodedError_NotATaskCrash()
    {
        using var temp = new TestPaths.TempFolder();
        File.WriteAllText(temp.File("out"), "a file where the output folder goes");
        var (exitCode, output) = MsBuildTask.Build(temp.Path, $"""<CompressModel Include="{Vgg}" ValidationData="{TestPaths.FashionTest}" Methods="iq" />""");
        Assert.NotEqual(0, exitCode);
        Assert.Contains("error MBT1305: the outputs cannot be written under ModelCompressionIntermediateDir", output);
        Assert.DoesNotContain("MSB4018", output); // "the task failed unexpectedly", with a stack trace
        Assert.DoesNotContain("   at ", output);
    }
}

using System.Diagnostics;
using ModelBuildTasks.Graph;

namespace ModelBuildTasks.Cli.Tests;

/// <summary>The classes written without the engine (design-time builds, ModelCompressionEnabled=false): bad inputs are coded errors, never a hang or a stack trace.</summary>
public class MsBuildWrapperTests
{
    [Fact]
    public void AFifoAsTheModel_IsACodedError_NotADesignTimeBuildThatHangs()
    {
        using var temp = new TestPaths.TempFolder();
        using (var mkfifo = Process.Start("mkfifo", [temp.File("m.onnx")])) mkfifo.WaitForExit();
        var (exitCode, output) = MsBuildTask.BuildWrappers(temp.Path, $"""<CompressModel Include="m.onnx" ValidationData="{TestPaths.FashionTest}" />""", embedsModel: false);
        Assert.NotEqual(0, exitCode);
        Assert.Contains("error MBT1001", output);
    }

    [Fact]
    public void AnUnwritableOutputFolder_IsACodedError_NotATaskCrash()
    {
        using var temp = new TestPaths.TempFolder();
        ModelFile.Save(TestModels.Plain(), temp.File("m.onnx"));
        File.WriteAllText(temp.File("out"), "a file where the output folder goes");
        var (exitCode, output) = MsBuildTask.BuildWrappers(temp.Path, $"""<CompressModel Include="m.onnx" ValidationData="{TestPaths.FashionTest}" />""", embedsModel: false);
        Assert.NotEqual(0, exitCode);
        Assert.Contains("error MBT1305: the class for m.onnx cannot be made (its inputs read, or its file written under ModelCompressionIntermediateDir)", output);
        Assert.DoesNotContain("MSB4018", output);
    }

    // The engine makes a uint8 input cast to float, and a float16 model, float; embedded as they are, the class would feed
    // them floats and every call would throw.
    [Fact]
    public void Uint8AndFloat16Inputs_AreRefusedUncompressed_AndTheDesignTimeClassTakesFloatPixels_AsTheEngineConvertsThem()
    {
        using var temp = new TestPaths.TempFolder();
        ModelFile.Save(ExportForms.Pixels().Exported, temp.File("pixels.onnx"));
        var half = TestModels.Plain();
        half.Graph.Inputs[0] = half.Graph.Inputs[0] with { Type = ElementType.Float16 };
        ModelFile.Save(half, temp.File("half.onnx"));
        var items = $"""
            <CompressModel Include="pixels.onnx" ValidationData="{TestPaths.FashionTest}" Preprocess="mean=0.5;std=2" />
            <CompressModel Include="half.onnx" ValidationData="{TestPaths.FashionTest}" />
            """;

        var (embedded, embeddedOutput) = MsBuildTask.BuildWrappers(temp.Path, items, embedsModel: true);
        var (designTime, designTimeOutput) = MsBuildTask.BuildWrappers(temp.Path, items, embedsModel: false);

        Assert.NotEqual(0, embedded);
        Assert.Contains("pixels.onnx : error MBT1104: the model's input is uint8, and ModelCompressionEnabled=false embeds the model as it is, while the class feeds floats: compress it", embeddedOutput);
        Assert.Contains("half.onnx : error MBT1104: the model's input is float16", embeddedOutput);
        Assert.True(designTime == 0, designTimeOutput);
        // The metadata the class embeds, its quotes unescaped.
        string Metadata(string name) => File.ReadAllText(temp.File($"out/{name}/{name}.designtime.g.cs")).Replace("\\\"", "\"");
        Assert.Contains("\"inputs\":[{\"name\":\"input\",\"type\":\"float\"", Metadata("pixels"));
        Assert.Contains("scale=1;mean=0.5;std=2", Metadata("pixels")); // a given preprocessing without a scale: pixels as they are
        Assert.Contains("\"inputs\":[{\"name\":\"input\",\"type\":\"float\"", Metadata("half"));
    }

    [Fact]
    public void AModelEndingInSoftmax_IsRecordedAsGivingProbabilities_AsTheEngineRecordsIt()
    {
        using var temp = new TestPaths.TempFolder();
        ModelFile.Save(ZooModels.Members["tf_nhwc_convnet"](), temp.File("soft.onnx")); // Softmax, then an Identity naming the output
        ModelFile.Save(TestModels.Plain(), temp.File("plain.onnx"));
        var (exitCode, output) = MsBuildTask.BuildWrappers(temp.Path, $"""
            <CompressModel Include="soft.onnx" ValidationData="{TestPaths.FashionTest}" />
            <CompressModel Include="plain.onnx" ValidationData="{TestPaths.FashionTest}" />
            """, embedsModel: true);
        Assert.True(exitCode == 0, output);
        Assert.Contains("\\\"output_probabilities\\\":true", File.ReadAllText(temp.File("out/soft/soft.uncompressed.g.cs")));
        Assert.Contains("\\\"output_probabilities\\\":false", File.ReadAllText(temp.File("out/plain/plain.uncompressed.g.cs")));
    }

    [Fact]
    public void OutputsThatAreNotClassScores_AndTheCosineMetricInAnyCase_GiveTheFeatureClass_AsTheEngineDoes()
    {
        using var temp = new TestPaths.TempFolder();
        var single = TestModels.Plain(); // one score per image ([N, 1], a sigmoid's): the engine scores it by cosine
        single.Graph.Outputs[0] = single.Graph.Outputs[0] with { Shape = new TensorShape([Dim.Named("N"), Dim.Of(1)]) };
        ModelFile.Save(single, temp.File("single.onnx"));
        ModelFile.Save(TestModels.Plain(), temp.File("plain.onnx"));
        ModelFile.Save(TestModels.Plain(), temp.File("cosine.onnx"));
        var (exitCode, output) = MsBuildTask.BuildWrappers(temp.Path, $"""
            <CompressModel Include="single.onnx" ValidationData="{TestPaths.FashionTest}" />
            <CompressModel Include="plain.onnx" ValidationData="{TestPaths.FashionTest}" />
            <CompressModel Include="cosine.onnx" ValidationData="{TestPaths.FashionTest}" Metric="Cosine" />
            """, embedsModel: true);
        Assert.True(exitCode == 0, output);
        foreach (var features in new[] { "single", "cosine" })
        {
            var source = File.ReadAllText(temp.File($"out/{features}/{features}.uncompressed.g.cs"));
            Assert.Contains("public const int FeatureSize", source);
            Assert.DoesNotContain("ClassCount", source);
        }
        Assert.Contains("public const int ClassCount = 10;", File.ReadAllText(temp.File("out/plain/plain.uncompressed.g.cs")));
    }

    // The task's output paths went out as MSBuild-escaped text: under a folder with a ';' in its name the
    // class became two Compile items that do not exist, and the build failed with CS2001 (a plain project builds there).
    [Fact]
    public void AProjectFolderWithASemicolon_GetsItsClassAsOneCompileItem()
    {
        using var temp = new TestPaths.TempFolder();
        var folder = Directory.CreateDirectory(temp.File("R&D; 100% models")).FullName;
        ModelFile.Save(TestModels.Plain(), Path.Combine(folder, "m.onnx"));
        File.WriteAllText(Path.Combine(folder, "compress.proj"), $"""
            <Project>
              <UsingTask TaskName="ModelBuildTasks.Build.GenerateModelWrappers" AssemblyFile="{MsBuildTask.TaskAssembly}" />
              <Target Name="Build">
                <ItemGroup>
                  <CompressModel Include="m.onnx" ValidationData="{TestPaths.FashionTest}" />
                </ItemGroup>
                <GenerateModelWrappers Models="@(CompressModel)" OutputDirectory="$(MSBuildProjectDirectory)/out" ProjectDirectory="$(MSBuildProjectDirectory)" Suffix=".uncompressed.g.cs" EmbedsModel="true">
                  <Output TaskParameter="Outputs" ItemName="_Generated" />
                </GenerateModelWrappers>
                <ItemGroup>
                  <Compile Include="%(_Generated.Wrapper)" />
                </ItemGroup>
                <Message Importance="high" Text="compile items: @(Compile->Count())" />
                <Error Condition="!Exists('%(Compile.FullPath)')" Text="no such file: %(Compile.FullPath)" />
              </Target>
            </Project>
            """);
        var (exitCode, output) = MsBuildTask.Run(folder);
        Assert.True(exitCode == 0, output);
        Assert.Contains("compile items: 1", output);
    }

    [Fact]
    public void LabelsOfTheWrongCount_AreACodedError_NotAClassWithTwoNamesForTenClasses()
    {
        using var temp = new TestPaths.TempFolder();
        ModelFile.Save(TestModels.Plain(), temp.File("m.onnx"));
        var (exitCode, output) = MsBuildTask.BuildWrappers(temp.Path, $"""<CompressModel Include="m.onnx" ValidationData="{TestPaths.FashionTest}" Labels="a,b" />""", embedsModel: true);
        Assert.NotEqual(0, exitCode);
        Assert.Contains("error MBT1301: Labels names 2 classes, the model's output has 10", output);
    }

    // A model only compression can make runnable, both ways the build writes a class without the engine: at design time
    // (which must succeed, with the class the compressed one will be), and embedded uncompressed (which must fail).
    static (string DesignTimeClass, string UncompressedOutput) WithoutTheEngine(OnnxModel model, string itemAttributes = "")
    {
        using var temp = new TestPaths.TempFolder();
        ModelFile.Save(model, temp.File("m.onnx"));
        var item = $"""<CompressModel Include="m.onnx" ValidationData="{TestPaths.FashionTest}" {itemAttributes} />""";
        var (designTimeExit, designTime) = MsBuildTask.BuildWrappers(temp.Path, item, embedsModel: false);
        Assert.True(designTimeExit == 0, designTime);
        var (exitCode, output) = MsBuildTask.BuildWrappers(temp.Path, item, embedsModel: true);
        Assert.NotEqual(0, exitCode);
        return (File.ReadAllText(temp.File("out/m/m.designtime.g.cs")), output);
    }

    [Fact]
    public void AModelOfNoFixedImageSize_HasADesignTimeClass_ButEmbeddedUncompressedIsACodedError()
    {
        // The runtime needs each image's size: compressing fixes it from the validation images, embedding as it is cannot.
        var model = TestModels.Plain();
        var input = model.Graph.Inputs[0];
        model.Graph.Inputs[0] = input with { Shape = new TensorShape([Dim.Named("N"), input.Shape![1], Dim.Named("H"), Dim.Named("W")]) };

        var (designTimeClass, uncompressed) = WithoutTheEngine(model);

        Assert.Contains("public const int Height = 1;", designTimeClass);
        Assert.Contains("public const int Width = 1;", designTimeClass);
        // The preprocessing as the compressed class states it (it was "mean=0;std=1", its scale left implicit).
        Assert.Contains("public const string Preprocess = \"scale=0.003921569;mean=0;std=1\";", designTimeClass);
        Assert.Matches(@"m\.onnx : error MBT1104: the model's input is \[N,1,H,W\], of no fixed image size", uncompressed);
    }

    [Fact]
    public void AModelOfNoFixedOutputSize_IsADesignTimeClassifier_ButEmbeddedUncompressedIsACodedError()
    {
        // The app reads each image's outputs by the declared size, which [N,C] does not give; at design time it is the
        // classifier compression makes of it (it was a feature extractor of FeatureSize 0).
        var model = TestModels.Plain();
        model.Graph.Outputs[0] = model.Graph.Outputs[0] with { Shape = new TensorShape([Dim.Named("N"), Dim.Named("C")]) };

        var (designTimeClass, uncompressed) = WithoutTheEngine(model, $"""Labels="{string.Join(",", Enumerable.Range(0, 10).Select(i => $"c{i}"))}" """);

        Assert.Contains("public const int ClassCount = 10;", designTimeClass);
        Assert.DoesNotContain("FeatureSize", designTimeClass);
        Assert.Matches(@"m\.onnx : error MBT1005: the model's output is \[N,C\], of no fixed size per image", uncompressed);
    }

    [Fact]
    public void AChannelsLastModel_HasAChannelsFirstDesignTimeClass_ButEmbeddedUncompressedIsACodedError()
    {
        // As tf2onnx exports it: N x H x W x C, transposed first. The engine makes it channels-first; embedded as it is, the
        // class fed it C x H x W (constants 12 x 10 x 3 read as C x H x W, and image files refused as "3 channels to 12").
        var b = new GraphBuilder("tf", seed: 7);
        var x = b.InputChannelsLast("image", 12, 10, 3);
        b.Output(b.Linear(b.Flatten(b.GlobalAveragePool(b.Relu(b.Conv(x, 8)))), 10), "logits");

        var (designTimeClass, uncompressed) = WithoutTheEngine(b.Build());

        Assert.Contains("public const int Channels = 3;", designTimeClass);
        Assert.Contains("public const int Height = 12;", designTimeClass);
        Assert.Contains("public const int Width = 10;", designTimeClass);
        Assert.Matches(@"m\.onnx : error MBT1104: the model's input is \[N,12,10,3\], N x H x W x C", uncompressed);
    }
}

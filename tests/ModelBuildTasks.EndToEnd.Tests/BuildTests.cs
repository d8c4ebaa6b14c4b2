namespace ModelBuildTasks.EndToEnd.Tests;

[Collection(nameof(PackedPackages))]
public class BuildTests(PackedPackages packages)
{
    [Fact]
    public void FirstBuildCompresses_SecondIsANoOp_ChangingASettingRecompresses_AndTheAppRuns()
    {
        using var app = new ConsumerProject(packages, "MaxAccuracyDrop=\"1\"");

        var first = app.Build();
        Assert.True(first.ExitCode == 0, first.Output);
        Assert.Contains("ModelBuildTasks: compressing fashion_vgg.onnx", first.Output);
        Assert.Matches(@"fashion_vgg\.onnx: 3,946,886 -> [\d,]+ bytes", first.Output);
        Assert.Contains("report: " + Path.Combine(app.Outputs, "fashion_vgg/report.html"), first.Output);
        Assert.True(File.Exists(Path.Combine(app.Outputs, "fashion_vgg/report.md")));
        // The engine inside the package draws the charts too: its graphics natives come from the NuGet cache.
        var html = File.ReadAllText(Path.Combine(app.Outputs, "fashion_vgg/report.html"));
        Assert.DoesNotContain("chart not drawn", html);
        Assert.Contains("<figure id=\"search-path\"><svg", html);
        // ... and none of them reach the app.
        Assert.Empty(Directory.GetFiles(Path.Combine(app.Folder, "bin"), "*Skia*", SearchOption.AllDirectories));
        var run = app.RunApp();
        Assert.True(run.ExitCode == 0, run.Output);
        Assert.Matches("prediction: .+ of 10 classes", run.Output);

        var second = app.Build();
        Assert.True(second.ExitCode == 0, second.Output);
        Assert.Contains("fashion_vgg.onnx is up to date", second.Output);
        Assert.DoesNotContain("compressing", second.Output); // the engine did not run

        app.SetItemAttribute("MaxAccuracyDrop=\"1\"", "MaxAccuracyDrop=\"2\"");
        var third = app.Build();
        Assert.True(third.ExitCode == 0, third.Output);
        Assert.Contains("ModelBuildTasks: compressing fashion_vgg.onnx", third.Output);
        Assert.DoesNotContain("cache: hit", third.Output); // a new setting is a new cache key

        var clean = app.Run("clean");
        Assert.True(clean.ExitCode == 0, clean.Output);
        Assert.False(Directory.Exists(app.Outputs), "dotnet clean left the outputs");
    }

    [Fact]
    public void AnAppWhosePackagesHoldOnlyANewerOnnxRuntime_RunsTheEngineOnIt()
    {
        // An app that pins a newer ONNX Runtime restores only that one: on a clean machine the engine's own version was
        // absent, and the host stopped before the engine started, with an MSBuild error of no text. A packages folder
        // holding only a newer version's natives stands for that machine here.
        using var app = new ConsumerProject(packages, "Methods=\"iq\" Bits=\"7\"");
        var rid = System.Runtime.InteropServices.RuntimeInformation.RuntimeIdentifier;
        var natives = Path.Combine("runtimes", rid, "native");
        var packagesFolder = Path.Combine(app.Folder, "packages-newer-only");
        var newer = Directory.CreateDirectory(Path.Combine(packagesFolder, "microsoft.ml.onnxruntime", "99.0.0", natives)).FullName;
        foreach (var file in Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, natives), "*onnxruntime*")) File.Copy(file, Path.Combine(newer, Path.GetFileName(file)));
        var project = Path.Combine(app.Folder, "App.csproj");
        File.WriteAllText(project, File.ReadAllText(project).Replace("</Project>", $"""
              <Target Name="NewerOnnxRuntimeOnly" BeforeTargets="CompressModel_Compress">
                <PropertyGroup><NuGetPackageRoot>{packagesFolder}/</NuGetPackageRoot></PropertyGroup>
              </Target>
            </Project>
            """));

        var build = app.Build();

        Assert.True(build.ExitCode == 0, build.Output);
        Assert.Matches("ModelBuildTasks: (compressing fashion_vgg.onnx|fashion_vgg.onnx taken from the cache)", build.Output); // the engine ran
        Assert.NotEmpty(Directory.GetFiles(Path.Combine(app.Outputs, "onnxruntime-probe"), "*onnxruntime*", SearchOption.AllDirectories));
        var run = app.RunApp();
        Assert.True(run.ExitCode == 0, run.Output);
    }

    [Fact]
    public void UnchangedOutputs_DoNotRecompileTheApp_ARealChangeToTheModelDoes()
    {
        // The validation data's folder is a global property, so it can move without the project file (a
        // compiler input itself) changing; the model is the app's own copy, to touch and to change.
        var data = Path.Combine(TestPaths.RepoRoot, "samples/data/fashion-mnist");
        using var app = new ConsumerProject(packages, "Methods=\"IQ\" Bits=\"7\" Calibration=\"minmax\""); // a cache key no other test makes
        var model = Path.Combine(app.Folder, "model.onnx");
        File.Copy(Path.Combine(TestPaths.RepoRoot, "samples/models/fashion_vgg.onnx"), model);
        app.SetItemAttribute(Path.Combine(TestPaths.RepoRoot, "samples/models/fashion_vgg.onnx"), "model.onnx");
        app.SetItemAttribute($"ValidationData=\"{data}/", "ValidationData=\"$(E2EData)/");
        var moved = Path.Combine(app.Folder, "moved data");
        Directory.CreateDirectory(moved);
        foreach (var file in new[] { "val-images-idx3-ubyte.gz", "val-labels-idx1-ubyte.gz" }) File.Copy(Path.Combine(data, file), Path.Combine(moved, file));
        const string skipped = "Skipping target \"CoreCompile\" because all output files are up-to-date";

        var first = app.Build($"-p:E2EData={data}");
        Assert.True(first.ExitCode == 0, first.Output);
        Assert.Contains("ModelBuildTasks: compressing model.onnx", first.Output);
        Assert.DoesNotContain(skipped, first.Output);

        // Touched (a checkout, an editor's save): the same bytes, a newer time.
        File.SetLastWriteTimeUtc(model, DateTime.UtcNow.AddMinutes(1));
        var touched = app.Build($"-p:E2EData={data}");
        Assert.True(touched.ExitCode == 0, touched.Output);
        Assert.Contains("model.onnx is up to date", touched.Output);
        Assert.Contains(skipped, touched.Output);

        // The same data elsewhere: the engine runs and hits its cache; the container and class keep their bytes and times.
        var hit = app.Build($"-p:E2EData={moved}");
        Assert.True(hit.ExitCode == 0, hit.Output);
        Assert.Contains("ModelBuildTasks: model.onnx taken from the cache, not compressed again (cache: hit", hit.Output);
        Assert.DoesNotContain("compressing", hit.Output);
        Assert.Contains(skipped, hit.Output);
        // ... and the stamp keeps the next build from starting the engine at all.
        var after = app.Build($"-p:E2EData={moved}");
        Assert.True(after.ExitCode == 0, after.Output);
        Assert.Contains("model.onnx is up to date", after.Output);
        Assert.Contains(skipped, after.Output);

        // A real change: the classifier's bias for class 0 (its last 10-value initializer) moves a little.
        var container = File.ReadAllBytes(Path.Combine(app.Outputs, "model/model.cmodel"));
        var proto = ModelBuildTasks.Graph.ModelFile.LoadProto(model);
        var bias = proto.Graph.Initializer.Last(t => t.Dims.Count == 1 && t.Dims[0] == 10);
        var values = bias.RawData.Length > 0 ? Floats(bias.RawData.ToByteArray()) : bias.FloatData.ToArray();
        values[0] += 0.05f;
        bias.FloatData.Clear();
        bias.RawData = Google.Protobuf.ByteString.CopyFrom(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
        File.WriteAllBytes(model, Google.Protobuf.MessageExtensions.ToByteArray(proto));
        var changed = app.Build($"-p:E2EData={moved}");
        Assert.True(changed.ExitCode == 0, changed.Output);
        Assert.Contains("ModelBuildTasks: compressing model.onnx", changed.Output);
        Assert.DoesNotContain(skipped, changed.Output);
        Assert.NotEqual(container, File.ReadAllBytes(Path.Combine(app.Outputs, "model/model.cmodel")));
        Assert.True(app.RunApp().ExitCode == 0);
    }

    static float[] Floats(byte[] raw) => System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(raw).ToArray();

    [Fact]
    public void Clean_OfAnIntermediateDirTheProjectChose_RemovesOnlyWhatTheBuildWrote()
    {
        // A folder of the project's own (it held its model and a README, and clean used to delete it whole).
        using var app = new ConsumerProject(packages, "Methods=\"IQ\" Bits=\"7\"", "<ModelCompressionIntermediateDir>models/</ModelCompressionIntermediateDir>");
        Directory.CreateDirectory(Path.Combine(app.Folder, "models"));
        File.WriteAllText(Path.Combine(app.Folder, "models/README.md"), "ours");
        // A generated source of the project's own there, which the build must go on compiling (and a use of it).
        File.WriteAllText(Path.Combine(app.Folder, "models/Extra.g.cs"), "namespace E2E.App; static class Extra { public static int Answer => 42; }");
        File.WriteAllText(Path.Combine(app.Folder, "Use.cs"), "namespace E2E.App; static class Use { public static int Value => Extra.Answer; }");
        // An IDE opening the project first writes the design-time class there, under the SDK's **/*.cs glob: the build
        // compiled it beside the compressed one (the class defined twice), and the compressed one twice (CS2002).
        var designTime = app.Run("msbuild", "-restore", "-t:Compile", "-p:DesignTimeBuild=true", "-nodeReuse:false");
        Assert.True(designTime.ExitCode == 0, designTime.Output);
        Assert.True(File.Exists(Path.Combine(app.Folder, "models/fashion_vgg/fashion_vgg.designtime.g.cs")));
        var build = app.Build();
        Assert.True(build.ExitCode == 0, build.Output);
        Assert.DoesNotContain("CS2002", build.Output);
        Assert.True(File.Exists(Path.Combine(app.Folder, "models/fashion_vgg/fashion_vgg.cmodel")));

        var clean = app.Run("clean");
        Assert.True(clean.ExitCode == 0, clean.Output);
        Assert.Equal("ours", File.ReadAllText(Path.Combine(app.Folder, "models/README.md")));
        Assert.Empty(Directory.GetFiles(Path.Combine(app.Folder, "models/fashion_vgg")));
    }

    [Fact]
    public void AnIntermediateDirSetInDirectoryBuildTargets_WithoutATrailingSlash_IsUsed_AndCleanKeepsItsOtherFiles()
    {
        // Directory.Build.targets is imported after the package's targets, which used to decide at that point that the
        // (then still default) folder was theirs: clean removed the project's folder whole, README and all.
        using var app = new ConsumerProject(packages, "Methods=\"IQ\" Bits=\"7\"");
        File.WriteAllText(Path.Combine(app.Folder, "Directory.Build.targets"), """
            <Project>
              <PropertyGroup><ModelCompressionIntermediateDir>$(MSBuildProjectDirectory)/Generated</ModelCompressionIntermediateDir></PropertyGroup>
            </Project>
            """);
        Directory.CreateDirectory(Path.Combine(app.Folder, "Generated"));
        File.WriteAllText(Path.Combine(app.Folder, "Generated/README.md"), "ours");
        var build = app.Build();
        Assert.True(build.ExitCode == 0, build.Output);
        Assert.True(File.Exists(Path.Combine(app.Folder, "Generated/fashion_vgg/fashion_vgg.cmodel")), build.Output);

        var clean = app.Run("clean");
        Assert.True(clean.ExitCode == 0, clean.Output);
        Assert.Equal("ours", File.ReadAllText(Path.Combine(app.Folder, "Generated/README.md")));
        Assert.Empty(Directory.GetFiles(Path.Combine(app.Folder, "Generated/fashion_vgg")));
    }

    [Fact]
    public void ATrimmedSelfContainedPublish_RunsTheEmbeddedModel()
    {
        // Trimming keeps no reflection metadata: the container's metadata JSON failed to load there, reported as a damaged file.
        using var app = new ConsumerProject(packages, "Methods=\"IQ\" Bits=\"7\"");
        var publish = app.Run("publish", "-c", "Release", "-r", "linux-x64", "--self-contained", "-p:PublishTrimmed=true", "-o", "pub", "-nodeReuse:false");
        Assert.True(publish.ExitCode == 0, publish.Output);
        Assert.DoesNotMatch(@"warning IL\d+: .*ModelBuildTasks", publish.Output); // no trim warning from our assemblies
        var run = Dotnet.Run(app.Folder, Path.Combine(app.Folder, "pub/App"));
        Assert.True(run.ExitCode == 0, run.Output);
        Assert.Matches("prediction: .+ of 10 classes", run.Output);
        Assert.Contains("probabilities sum to 1.00", run.Output);
    }

    [Fact]
    public void ASecondProjectWithTheSameModel_HitsTheSharedCache()
    {
        using var a = new ConsumerProject(packages, "Methods=\"IQ\" Bits=\"7\"");
        using var b = new ConsumerProject(packages, "Methods=\"IQ\" Bits=\"7\"");
        var first = a.Build();
        Assert.True(first.ExitCode == 0, first.Output);
        var second = b.Build();
        Assert.True(second.ExitCode == 0, second.Output);
        Assert.Contains("cache: hit", second.Output);
        Assert.Equal(File.ReadAllBytes(Path.Combine(a.Outputs, "fashion_vgg/fashion_vgg.cmodel")), File.ReadAllBytes(Path.Combine(b.Outputs, "fashion_vgg/fashion_vgg.cmodel")));
    }

    [Fact]
    public void ABadModelPath_FailsWithItsCodeAndFile()
    {
        using var app = new ConsumerProject(packages, "");
        app.SetItemAttribute(Path.Combine(TestPaths.RepoRoot, "samples/models/fashion_vgg.onnx"), "models/missing.onnx");
        var result = app.Build();
        Assert.NotEqual(0, result.ExitCode);
        Assert.Matches(@"models/missing\.onnx.*error MBT1001: model file not found", result.Output);
    }

    [Fact]
    public void LabelsWithBackslashesAndQuotes_ReachTheGeneratedClassUnchanged()
    {
        // Nine plain labels and one with a backslash and a quote, which the task's command line must carry through.
        using var app = new ConsumerProject(packages, "Methods=\"IQ\" Bits=\"6\" Labels=\"a\\b&quot;c,1,2,3,4,5,6,7,8,9\"");
        var result = app.Build();
        Assert.True(result.ExitCode == 0, result.Output);
        var wrapper = File.ReadAllText(Path.Combine(app.Outputs, "fashion_vgg/fashion_vgg.g.cs"));
        Assert.Contains("\"a\\\\b\\\"c\",", wrapper); // the C# literal "a\\b\"c": one backslash, one quote
    }

    // The tasks passed their output paths as MSBuild-escaped metadata: under a folder with ';' in its name the
    // generated class became two Compile items that do not exist (CS2001), after a whole compression. NuGet
    // itself cannot read a NuGet.config in such a folder (restore fails: "SettingsLoadingContext requires a
    // rooted path"), so the feed's config is one folder up, where a repository keeps it.
    [Fact]
    public void AProjectUnderAFolderWithASemicolon_Builds_AndItsAppRunsTheEmbeddedModel()
    {
        using var app = new ConsumerProject(packages, "Methods=\"IQ\" Bits=\"7\"", subfolder: "R&D; 100% models");
        Assert.Contains(';', app.Outputs);
        var build = app.Build();
        Assert.True(build.ExitCode == 0, build.Output);
        Assert.True(File.Exists(Path.Combine(app.Outputs, "fashion_vgg/fashion_vgg.cmodel")));
        var run = app.RunApp();
        Assert.True(run.ExitCode == 0, run.Output);
        Assert.Matches("prediction: .+ of 10 classes", run.Output);
        Assert.Contains("probabilities sum to 1.00", run.Output);
    }

    [Fact]
    public void AFifoAsValidationData_FailsWithItsCode_InsteadOfHangingTheBuild()
    {
        using var app = new ConsumerProject(packages, "");
        var fifo = Path.Combine(app.Folder, "val-images-idx3-ubyte");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", [fifo])) mkfifo.WaitForExit();
        var data = Path.Combine(TestPaths.RepoRoot, "samples/data/fashion-mnist");
        app.SetItemAttribute($"ValidationData=\"{data}/val-images-idx3-ubyte.gz\"", $"ValidationData=\"{fifo}\"");
        var build = Task.Run(() => app.Build());
        Assert.True(build.Wait(TimeSpan.FromMinutes(10)), "a FIFO as validation data hung the build");
        Assert.NotEqual(0, build.Result.ExitCode);
        Assert.Matches(@"error MBT1101: .*regular file", build.Result.Output);
    }

    [Fact]
    public void AnUnreachableTarget_FailsTheBuildWithTheBestAccuracy_OrWarnsWhenAllowed()
    {
        using var app = new ConsumerProject(packages, "TargetAccuracy=\"0.999\"");
        var failed = app.Build();
        Assert.NotEqual(0, failed.ExitCode);
        Assert.Matches(@"error MBT1401: accuracy target not met: the best compressed model reaches \d+\.\d\d%", failed.Output);

        using var allowed = new ConsumerProject(packages, "TargetAccuracy=\"0.999\"", "<ModelCompressionAllowAccuracyMiss>true</ModelCompressionAllowAccuracyMiss>");
        var warned = allowed.Build();
        Assert.True(warned.ExitCode == 0, warned.Output);
        Assert.Contains("warning MBT1401", warned.Output);
        Assert.True(allowed.RunApp().ExitCode == 0); // the original model was embedded instead
    }

    [Fact]
    public void DesignTimeBuilds_NeverCompress_CompileAgainstTheSignatureClass_ThenSeeTheLastWrapper()
    {
        using var app = new ConsumerProject(packages, "Methods=\"IQ\" Bits=\"6\"");
        // Before any compression the IDE gets a class made from the model's signature: the app's
        // code (Predict, TopK, Probabilities, PredictImage) compiles against it for real (csc runs).
        var before = Dotnet.Run(app.Folder, "dotnet", "msbuild", "-restore", "-t:Compile", "-p:DesignTimeBuild=true", "-nodeReuse:false", "-v:n");
        Assert.True(before.ExitCode == 0, before.Output);
        Assert.DoesNotContain("compressing", before.Output);
        var signature = File.ReadAllText(Path.Combine(app.Outputs, "fashion_vgg/fashion_vgg.designtime.g.cs"));
        Assert.Contains("public sealed partial class Classifier", signature);
        Assert.Contains("public const int ClassCount = 10;", signature);
        Assert.Contains("public const int Height = 28;", signature);
        Assert.False(File.Exists(Path.Combine(app.Outputs, "fashion_vgg/fashion_vgg.cmodel")));
        Assert.True(app.Build().ExitCode == 0);
        var after = Dotnet.Run(app.Folder, "dotnet", "msbuild", "-t:CompressModel_DesignTime", "-p:DesignTimeBuild=true", "-getItem:Compile", "-nodeReuse:false");
        Assert.Contains("fashion_vgg.g.cs", after.Output);
    }

    // ***** Issue 14, point 1: every supported .NET

    [Fact]
    public void ANet8App_Builds_Runs_AndClassifiesAnImageFile_WithTheNet8Runtime()
    {
        using var app = new ConsumerProject(packages, "Methods=\"IQ\" Bits=\"7\"", targetFramework: "net8.0");
        var build = app.Build();
        Assert.True(build.ExitCode == 0, build.Output);
        Assert.DoesNotContain("CS0400", build.Output);
        // The full version, prerelease part included, names the generator (and keys the cache).
        Assert.Contains($"GeneratedCode(\"ModelBuildTasks\", \"{packages.Version}\")", File.ReadAllText(Path.Combine(app.Outputs, "fashion_vgg/fashion_vgg.g.cs")));
        // The app got the net8.0 build of the runtime library, not the net10.0 one.
        Assert.Equal(".NETCoreApp,Version=v8.0", TargetFrameworkOf(Path.Combine(app.Bin, "ModelBuildTasks.Runtime.dll")));
        Assert.Equal(".NETCoreApp,Version=v8.0", TargetFrameworkOf(Path.Combine(app.Bin, "ModelBuildTasks.Container.dll")));
        var image = Path.Combine(app.Folder, "shirt.png");
        File.WriteAllBytes(image, Png.Grey(Enumerable.Range(0, 28 * 28).Select(i => (byte)(i % 200)).ToArray(), 28, 28));
        var run = app.RunApp(image);
        Assert.True(run.ExitCode == 0, run.Output);
        Assert.Matches("prediction: .+ of 10 classes", run.Output);
        Assert.Matches(@"top-3: [^,]+ 0\.\d{3} \(logit -?\d+\.\d\d\), ", run.Output);
        Assert.Contains("probabilities sum to 1.00", run.Output);
        Assert.Matches("shirt.png: .+", run.Output);
    }

    [Fact]
    public void UnsupportedTargetFrameworks_AreMbt1304_BeforeAnyCompression()
    {
        using var app = new ConsumerProject(packages, "", targetFramework: "net6.0");
        app.SetItemAttribute("<TargetFramework>net6.0</TargetFramework>", "<TargetFrameworks>net6.0;netstandard2.0</TargetFrameworks>");
        app.SetItemAttribute("<OutputType>Exe</OutputType>", "<OutputType>Library</OutputType>");
        File.Delete(Path.Combine(app.Folder, "Program.cs"));
        var result = app.Build();
        Assert.NotEqual(0, result.ExitCode);
        Assert.Matches(@"App\.csproj.*error MBT1304: ModelBuildTasks needs \.NET 8 or later .*this project targets 'net6\.0'", result.Output);
        Assert.Matches(@"App\.csproj.*error MBT1304: .*this project targets 'netstandard2\.0'", result.Output);
        Assert.DoesNotContain("compressing", result.Output);
        Assert.DoesNotContain("CS0400", result.Output);
    }

    // The generated class is C#: an F# project failed with FS0226 on the .g.cs, a VB one with dozens
    // of syntax errors in it, both after a whole compression.
    [Theory]
    [InlineData("fsproj", "FS0226")]
    [InlineData("vbproj", "BC30035")]
    public void FSharpAndVisualBasicProjects_AreMbt1307_BeforeAnyCompression(string extension, string compilerError)
    {
        using var app = new ConsumerProject(packages, "");
        app.SetItemAttribute("<OutputType>Exe</OutputType>", "<OutputType>Library</OutputType>");
        File.Delete(Path.Combine(app.Folder, "Program.cs"));
        if (extension == "fsproj")
        {
            File.WriteAllText(Path.Combine(app.Folder, "Library.fs"), "module Library\nlet answer = 42\n");
            app.SetItemAttribute("<ItemGroup>", "<ItemGroup>\n    <Compile Include=\"Library.fs\" />");
        }
        File.Move(Path.Combine(app.Folder, "App.csproj"), Path.Combine(app.Folder, "App." + extension));
        var result = app.Build();
        Assert.NotEqual(0, result.ExitCode);
        Assert.Matches($@"App\.{extension}.*error MBT1307: ModelBuildTasks generates a C# class, and this project's language is '(F#|VB)'", result.Output);
        Assert.DoesNotContain("compressing", result.Output);
        Assert.DoesNotContain(compilerError, result.Output);
    }

    // ***** Issue 14, point 4: IDE and watch

    [Fact]
    public void CompressionSwitchedOffAndOn_KeepsTheCompressedOutputs_SoOnAgainRunsNoEngine()
    {
        // MSBuild's IncrementalClean deleted the outputs the uncompressed build did not list: on again was a new compression.
        using var app = new ConsumerProject(packages, "Methods=\"IQ\" Bits=\"7\"");
        Assert.True(app.Build() is { ExitCode: 0 });
        var off = app.Build("-p:ModelCompressionEnabled=false");
        Assert.True(off.ExitCode == 0, off.Output);
        Assert.Contains("embedded uncompressed", off.Output);
        Assert.True(File.Exists(Path.Combine(app.Outputs, "fashion_vgg/fashion_vgg.cmodel")));

        var on = app.Build();

        Assert.True(on.ExitCode == 0, on.Output);
        Assert.DoesNotContain("compressing", on.Output);
        Assert.DoesNotContain("taken from the cache", on.Output);
    }

    [Fact]
    public void CompressionDisabled_EmbedsTheOriginalModel_AndTheSameClassRuns()
    {
        using var app = new ConsumerProject(packages, "", "<ModelCompressionEnabled>false</ModelCompressionEnabled>");
        var build = app.Build();
        Assert.True(build.ExitCode == 0, build.Output);
        // The IDE's check compares the class with the model: a model newer than the class (a checkout) is built again,
        // after which the class must not look older than it, or the project is out of date forever.
        var wrapper = Path.Combine(app.Outputs, "fashion_vgg/fashion_vgg.uncompressed.g.cs");
        var model = Path.Combine(TestPaths.RepoRoot, "samples/models/fashion_vgg.onnx");
        File.SetLastWriteTimeUtc(wrapper, File.GetLastWriteTimeUtc(model).AddHours(-1));
        Assert.True(app.Build().ExitCode == 0);
        Assert.True(File.GetLastWriteTimeUtc(wrapper) >= File.GetLastWriteTimeUtc(model));
        Assert.Contains("ModelBuildTasks: fashion_vgg.onnx embedded uncompressed (ModelCompressionEnabled=false)", build.Output);
        Assert.DoesNotContain("compressing", build.Output);
        // The original model (3.9 MB) is in the app's assembly.
        Assert.True(new FileInfo(Path.Combine(app.Bin, "App.dll")).Length > 3_900_000);
        var image = Path.Combine(app.Folder, "shirt.png");
        File.WriteAllBytes(image, Png.Grey(Enumerable.Range(0, 28 * 28).Select(i => (byte)(i % 200)).ToArray(), 28, 28));
        var run = app.RunApp(image);
        Assert.True(run.ExitCode == 0, run.Output);
        Assert.Matches("prediction: .+ of 10 classes", run.Output);
        Assert.Matches("shirt.png: .+", run.Output);
    }

    [Fact]
    public void IdeAndWatchItems_ListTheModel_ItsDataFiles_AndTheOutputs_AndThePropertyPageShips()
    {
        using var app = new ConsumerProject(packages, "Methods=\"IQ\" Bits=\"7\" TrainData=\"train/train-images-idx3-ubyte.gz\"");
        // Training images gzipped beside a plain labels file: the engine reads that pair (DatasetFiles.LabelsPathFor), so the IDE follows it.
        var data = Path.Combine(TestPaths.RepoRoot, "samples/data/fashion-mnist");
        Directory.CreateDirectory(Path.Combine(app.Folder, "train"));
        File.Copy(Path.Combine(data, "val-images-idx3-ubyte.gz"), Path.Combine(app.Folder, "train/train-images-idx3-ubyte.gz"));
        using (var labels = new System.IO.Compression.GZipStream(File.OpenRead(Path.Combine(data, "val-labels-idx1-ubyte.gz")), System.IO.Compression.CompressionMode.Decompress))
        using (var plain = File.Create(Path.Combine(app.Folder, "train/train-labels-idx1-ubyte")))
            labels.CopyTo(plain);
        var result = Dotnet.Run(app.Folder, "dotnet", "msbuild", "-restore", "-t:CompressModel_IdeItems", "-nodeReuse:false",
            "-getItem:Watch", "-getItem:UpToDateCheckInput", "-getItem:UpToDateCheckBuilt", "-getItem:PropertyPageSchema");
        Assert.True(result.ExitCode == 0, result.Output);
        using var json = System.Text.Json.JsonDocument.Parse(result.Output[result.Output.IndexOf('{')..]);
        string[] Items(string type) => json.RootElement.GetProperty("Items").GetProperty(type).EnumerateArray().Select(i => i.GetProperty("Identity").GetString()!).ToArray();
        foreach (var type in new[] { "Watch", "UpToDateCheckInput" })
        {
            var items = Items(type);
            Assert.Contains(items, i => i.EndsWith("fashion_vgg.onnx"));
            foreach (var file in new[] { "val-images-idx3-ubyte.gz", "val-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz" })
                Assert.Contains(Path.Combine(data, file), items);
            Assert.Contains(Path.Combine(app.Folder, "train/train-images-idx3-ubyte.gz"), items);
            Assert.Contains(Path.Combine(app.Folder, "train/train-labels-idx1-ubyte"), items);
        }
        // The stamp, which the task renews whenever it has checked the inputs (the container and the class keep their times when unchanged).
        Assert.Equal([Path.Combine(app.Outputs, "fashion_vgg/fingerprint.txt")], Items("UpToDateCheckBuilt"));

        // The property page: a rule for the CompressModel item with exactly the item metadata the targets define.
        var rule = Assert.Single(Items("PropertyPageSchema"), i => i.EndsWith("ModelBuildTasks.xml"));
        var xaml = System.Xml.Linq.XDocument.Load(rule);
        System.Xml.Linq.XNamespace ns = "http://schemas.microsoft.com/build/2009/properties";
        var targets = System.Xml.Linq.XDocument.Load(Path.Combine(Path.GetDirectoryName(rule)!, "ModelBuildTasks.targets"));
        var metadata = targets.Descendants().Where(e => e.Name.LocalName == "CompressModel" && e.Parent?.Name.LocalName == "ItemDefinitionGroup")
            .SelectMany(e => e.Elements()).Select(e => e.Name.LocalName).Order().ToList();
        var properties = xaml.Descendants().Where(e => e.Parent?.Name == ns + "Rule" && e.Name.LocalName.EndsWith("Property")).Select(e => e.Attribute("Name")!.Value).Except(["Identity", "FullPath"]).Order().ToList();
        Assert.True(metadata.Count > 20);
        Assert.Equal(metadata, properties);
        Assert.Equal("CompressModel", xaml.Descendants(ns + "DataSource").First().Attribute("ItemType")!.Value);
    }

    [Fact]
    public void IdeAndWatchItems_FollowTheModelsExternalDataFiles_OnceABuildHasFoundThem()
    {
        using var app = new ConsumerProject(packages, "Methods=\"IQ\" Bits=\"7\"");
        // The sample with its largest weight moved to an external-data file beside it.
        var proto = ModelBuildTasks.Graph.ModelFile.LoadProto(Path.Combine(TestPaths.RepoRoot, "samples/models/fashion_vgg.onnx"));
        var tensor = proto.Graph.Initializer.OrderByDescending(t => t.RawData.Length).First();
        var sidecar = Path.Combine(app.Folder, "vgg.onnx.weights");
        File.WriteAllBytes(sidecar, tensor.RawData.ToByteArray());
        tensor.DataLocation = ModelBuildTasks.Onnx.Proto.TensorProto.Types.DataLocation.External;
        tensor.ExternalData.Add(new ModelBuildTasks.Onnx.Proto.StringStringEntryProto { Key = "location", Value = "vgg.onnx.weights" });
        tensor.RawData = Google.Protobuf.ByteString.Empty;
        File.WriteAllBytes(Path.Combine(app.Folder, "vgg.onnx"), Google.Protobuf.MessageExtensions.ToByteArray(proto));
        app.SetItemAttribute(Path.Combine(TestPaths.RepoRoot, "samples/models/fashion_vgg.onnx"), "vgg.onnx");

        var build = app.Build();
        Assert.True(build.ExitCode == 0, build.Output);
        var result = Dotnet.Run(app.Folder, "dotnet", "msbuild", "-t:CompressModel_IdeItems", "-nodeReuse:false", "-getItem:Watch", "-getItem:UpToDateCheckInput");
        Assert.True(result.ExitCode == 0, result.Output);
        using var json = System.Text.Json.JsonDocument.Parse(result.Output[result.Output.IndexOf('{')..]);
        foreach (var type in new[] { "Watch", "UpToDateCheckInput" })
        {
            var items = json.RootElement.GetProperty("Items").GetProperty(type).EnumerateArray().Select(i => i.GetProperty("Identity").GetString()!).ToArray();
            Assert.Contains(Path.Combine(app.Folder, "vgg.onnx"), items);
            Assert.Contains(sidecar, items);
        }
    }

    // ***** Issue 14, point 3: reproducible packs

    [Fact]
    public void PackingTheSameCommitTwice_GivesTheSameBytes_WithReadmeIconAndSymbols()
    {
        using var second = new TestPaths.TempFolder();
        var result = Dotnet.Run(TestPaths.RepoRoot, "bash", "build/pack.sh", second.Path, packages.Version);
        Assert.True(result.ExitCode == 0, result.Output);
        var first = Directory.GetFiles(packages.Feed).Select(Path.GetFileName).Order().ToArray();
        Assert.Equal(first, Directory.GetFiles(second.Path).Select(Path.GetFileName).Order().ToArray());
        Assert.Contains($"ModelBuildTasks.Runtime.{packages.Version}.snupkg", first);
        foreach (var name in first)
            Assert.True(File.ReadAllBytes(Path.Combine(packages.Feed, name!)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(second.Path, name!))),
                $"{name} differs between two packs: {DifferingEntries(Path.Combine(packages.Feed, name!), Path.Combine(second.Path, name!))}");
        foreach (var name in first.Where(n => n!.EndsWith(".nupkg")))
        {
            using var zip = System.IO.Compression.ZipFile.OpenRead(Path.Combine(packages.Feed, name!));
            var nuspec = new StreamReader(zip.Entries.Single(e => e.FullName.EndsWith(".nuspec")).Open()).ReadToEnd();
            Assert.Contains("<readme>README.md</readme>", nuspec);
            Assert.Contains("<icon>icon.png</icon>", nuspec);
            Assert.Contains("<license type=\"expression\">MIT</license>", nuspec);
            Assert.Contains("<repository type=\"git\"", nuspec);
            Assert.Contains(zip.Entries, e => e.FullName == "icon.png" && e.Length < 50_000);
            Assert.DoesNotContain(zip.Entries, e => e.FullName.StartsWith("tools/") && e.FullName.Contains("/runtimes/") && (e.FullName.Contains("ios") || e.FullName.Contains("android")));
        }
    }

    // ***** Issue 14, point 2: lean packages

    [Fact]
    public void AnApp_GetsNoChartingPackages_AndWithARuntimeIdentifier_OnlyThatRidsNatives()
    {
        using var app = new ConsumerProject(packages, "Methods=\"IQ\" Bits=\"7\"", "<RuntimeIdentifier>linux-x64</RuntimeIdentifier>");
        var build = app.Build();
        Assert.True(build.ExitCode == 0, build.Output);
        // The engine still draws the report's charts (its SkiaSharp natives ship inside the package) ...
        Assert.DoesNotContain("chart not drawn", File.ReadAllText(Path.Combine(app.Outputs.Replace($"{app.TargetFramework}/", $"{app.TargetFramework}/linux-x64/"), "fashion_vgg/report.html")));
        // ... while the app's dependency graph has no charting package at all.
        using var assets = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(app.Folder, "obj/project.assets.json")));
        var graph = assets.RootElement.GetProperty("libraries").EnumerateObject().Select(l => l.Name).ToList();
        Assert.Contains(graph, l => l.StartsWith("ModelBuildTasks.Runtime/"));
        string[] charting = ["SkiaSharp", "HarfBuzzSharp", "ScottPlot"];
        Assert.DoesNotContain(graph, l => charting.Any(c => l.StartsWith(c, StringComparison.OrdinalIgnoreCase)));
        var bin = Path.Combine(app.Bin, "linux-x64");
        Assert.True(File.Exists(Path.Combine(bin, "libonnxruntime.so")));
        Assert.False(Directory.Exists(Path.Combine(bin, "runtimes")), "natives of other RIDs reached bin/");
        Assert.Empty(Directory.GetFiles(bin, "*.dll", SearchOption.AllDirectories).Where(f => Path.GetFileName(f).StartsWith("onnxruntime")));
        Assert.Empty(NativeFiles.ForOtherPlatforms(bin)); // by their headers: no Windows or macOS library under any name
        Assert.DoesNotContain(Directory.GetFiles(bin, "*", SearchOption.AllDirectories), f => charting.Any(c => Path.GetFileName(f).Contains(c, StringComparison.OrdinalIgnoreCase)));
        var run = Dotnet.Run(app.Folder, "dotnet", Path.Combine(bin, "App.dll"));
        Assert.True(run.ExitCode == 0, run.Output);
        Assert.Matches("prediction: .+ of 10 classes", run.Output);
    }

    [Fact]
    public void TheEngineInsideTheBuildPackage_HasNoApphostNorOnnxRuntimeNatives_ButItsChartNatives()
    {
        // The tools themselves: ToolPackageTests.
        using var zip = System.IO.Compression.ZipFile.OpenRead(Path.Combine(packages.Feed, $"ModelBuildTasks.{packages.Version}.nupkg"));
        // No apphost (it runs with dotnet exec), no ONNX Runtime natives (the NuGet cache has them).
        Assert.DoesNotContain(zip.Entries, e => e.FullName == "tools/net10.0/any/dotnet-compress-model");
        Assert.DoesNotContain(zip.Entries, e => e.FullName.Contains("onnxruntime", StringComparison.OrdinalIgnoreCase) && e.FullName.Contains("/runtimes/"));
        Assert.Contains(zip.Entries, e => e.FullName == "tools/net10.0/any/runtimes/linux-x64/native/libSkiaSharp.so");
    }

    static string DifferingEntries(string a, string b)
    {
        using var za = System.IO.Compression.ZipFile.OpenRead(a);
        using var zb = System.IO.Compression.ZipFile.OpenRead(b);
        var ea = za.Entries.Select(e => $"{e.FullName} {e.Crc32:x8} {e.Length} {e.LastWriteTime:O}").ToList();
        var eb = zb.Entries.Select(e => $"{e.FullName} {e.Crc32:x8} {e.Length} {e.LastWriteTime:O}").ToList();
        return ea.SequenceEqual(eb) ? "same entries, other bytes" : string.Join("; ", ea.Except(eb).Concat(["vs"]).Concat(eb.Except(ea)).Take(9)) + (ea.Count == eb.Count && !ea.Except(eb).Any() ? " (order)" : "");
    }

    static string? TargetFrameworkOf(string assembly)
    {
        using var stream = File.OpenRead(assembly);
        using var pe = new System.Reflection.PortableExecutable.PEReader(stream);
        var reader = System.Reflection.Metadata.PEReaderExtensions.GetMetadataReader(pe);
        foreach (var handle in reader.GetAssemblyDefinition().GetCustomAttributes())
        {
            var attribute = reader.GetCustomAttribute(handle);
            var ctor = reader.GetMemberReference((System.Reflection.Metadata.MemberReferenceHandle)attribute.Constructor);
            var type = reader.GetTypeReference((System.Reflection.Metadata.TypeReferenceHandle)ctor.Parent);
            if (reader.GetString(type.Name) != "TargetFrameworkAttribute") continue;
            var blob = reader.GetBlobReader(attribute.Value);
            blob.ReadUInt16(); // prolog
            return blob.ReadSerializedString();
        }
        return null;
    }
}

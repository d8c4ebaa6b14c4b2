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
    public void DesignTimeBuilds_NeverCompress_ButSeeTheLastWrapper()
    {
        using var app = new ConsumerProject(packages, "Methods=\"IQ\" Bits=\"6\"");
        var before = Dotnet.Run(app.Folder, "dotnet", "msbuild", "-restore", "-t:Compile", "-p:DesignTimeBuild=true", "-p:SkipCompilerExecution=true", "-nodeReuse:false", "-v:n");
        Assert.DoesNotContain("compressing", before.Output);
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

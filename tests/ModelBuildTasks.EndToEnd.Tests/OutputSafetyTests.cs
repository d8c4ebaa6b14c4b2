namespace ModelBuildTasks.EndToEnd.Tests;

/// <summary>Defects 7 and 9 of issue #12: colliding items are MBT errors naming both, and a damaged output in obj/ is rebuilt, never embedded.</summary>
[Collection(nameof(PackedPackages))]
public class OutputSafetyTests(PackedPackages packages)
{
    [Fact]
    public void ADamagedContainerInObj_IsRebuilt_NotReportedUpToDate()
    {
        using var app = new ConsumerProject(packages, "Methods=\"IQ\" Bits=\"7\"");
        var first = app.Build();
        Assert.True(first.ExitCode == 0, first.Output);
        var container = Path.Combine(app.Outputs, "fashion_vgg/fashion_vgg.cmodel");
        var good = File.ReadAllBytes(container);
        var damaged = good.ToArray();
        damaged[damaged.Length / 2] ^= 0xFF;
        File.WriteAllBytes(container, damaged);

        var second = app.Build();
        Assert.True(second.ExitCode == 0, second.Output);
        Assert.DoesNotContain("fashion_vgg.onnx is up to date", second.Output);
        Assert.Equal(good, File.ReadAllBytes(container));
        var run = app.RunApp();
        Assert.True(run.ExitCode == 0, run.Output);

        var third = app.Build(); // and now it is up to date again
        Assert.Contains("fashion_vgg.onnx is up to date", third.Output);
    }

    [Fact]
    public void CollidingItems_AreMbtErrorsNamingBothItems_BeforeAnyCompression()
    {
        using var app = new ConsumerProject(packages, "Methods=\"IQ\" Bits=\"7\"");
        var model = Path.Combine(TestPaths.RepoRoot, "samples/models/fashion_vgg.onnx");
        var data = TestPaths.FashionValidation;
        Directory.CreateDirectory(Path.Combine(app.Folder, "other"));
        File.Copy(model, Path.Combine(app.Folder, "other/fashion_vgg.onnx"));
        File.Copy(model, Path.Combine(app.Folder, "second.onnx"));
        app.SetItemAttribute("  </ItemGroup>", $"""
                <CompressModel Include="other/fashion_vgg.onnx" ClassName="Other" ValidationData="{data}" />
                <CompressModel Include="second.onnx" ClassName="Classifier!" ValidationData="{data}" />
              </ItemGroup>
            """);
        var result = app.Build();
        Assert.NotEqual(0, result.ExitCode);
        Assert.Matches(@"error MBT1302: CompressModel items '[^']*fashion_vgg\.onnx' and 'other/fashion_vgg\.onnx' have the same file name", result.Output);
        Assert.Matches(@"error MBT1303: CompressModel items '[^']*fashion_vgg\.onnx' \(ClassName 'Classifier'\) and 'second\.onnx' \(ClassName 'Classifier!'\) both generate the class E2E\.App\.Classifier", result.Output);
        Assert.DoesNotContain("compressing", result.Output);
        Assert.DoesNotContain("CS0101", result.Output);
    }
}

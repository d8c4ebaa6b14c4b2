using System.IO.Compression;
using System.Xml.Linq;

namespace ModelBuildTasks.EndToEnd.Tests;

/// <summary>
/// dotnet-compress-model as users get it (issue 14): RID-specific tool packages, a pointer package
/// that lists the RIDs plus one <c>dotnet-compress-model.&lt;rid&gt;</c> package per RID with that RID's
/// natives only. The packs are build/pack.sh's (this machine's RID); installs go to private NuGet
/// and CLI homes, so nothing of them lands in the machine's caches or tool folders.
/// </summary>
[Collection(nameof(PackedPackages))]
public class ToolPackageTests(PackedPackages packages)
{
    // Where Microsoft.ML.OnnxRuntime ships desktop and server natives (src/ModelBuildTasks.Cli).
    static readonly string[] ToolRids = ["linux-x64", "linux-arm64", "osx-arm64", "win-x64", "win-arm64"];

    [Fact]
    public void ThePointerListsEveryRid_AndThisRidsPackage_HoldsTheToolWithOnlyItsNatives()
    {
        using (var pointer = ZipFile.OpenRead(Package("dotnet-compress-model")))
        {
            Assert.Equal(["tools/any/any/DotnetToolSettings.xml"], pointer.Entries.Where(e => e.FullName.StartsWith("tools/")).Select(e => e.FullName));
            Assert.Contains("<packageType name=\"DotnetTool\" />", Read(pointer, ".nuspec"));
            var listed = XDocument.Parse(Read(pointer, "DotnetToolSettings.xml")).Descendants("RuntimeIdentifierPackage")
                .Select(p => $"{p.Attribute("RuntimeIdentifier")!.Value}={p.Attribute("Id")!.Value}");
            Assert.Equal(ToolRids.Select(r => $"{r}=dotnet-compress-model.{r}"), listed);
        }
        // A normal pack makes only this machine's RID package (PACK_ALL_RIDS=1 makes all of them).
        var ridPackages = Directory.GetFiles(packages.Feed, "dotnet-compress-model.*.nupkg").Select(Path.GetFileName)
            .Where(n => ToolRids.Any(r => n!.StartsWith($"dotnet-compress-model.{r}.")));
        Assert.Equal([$"dotnet-compress-model.{NativeFiles.HostRid}.{packages.Version}.nupkg"], ridPackages);

        using var zip = ZipFile.OpenRead(Package($"dotnet-compress-model.{NativeFiles.HostRid}"));
        Assert.Contains("<packageType name=\"DotnetToolRidPackage\" />", Read(zip, ".nuspec"));
        // Framework-dependent and started by dotnet, as the RID-agnostic tool was: no apphost, no runtime.
        Assert.Contains("EntryPoint=\"dotnet-compress-model.dll\" Runner=\"dotnet\"", Read(zip, "DotnetToolSettings.xml"));
        var tools = zip.Entries.Where(e => e.FullName.StartsWith("tools/")).ToList();
        Assert.All(tools, e => Assert.StartsWith($"tools/net10.0/{NativeFiles.HostRid}/", e.FullName));
        Assert.DoesNotContain(tools, e => e.FullName.Contains("/runtimes/") || e.Name.Contains("coreclr") || e.Name == "dotnet-compress-model");
        Assert.Contains(tools, e => e.Name == NativeFiles.OnnxRuntime);
    }

    [Fact]
    public void AGlobalInstall_FetchesOnlyThisRidsPackage_AndTheCommandRuns()
    {
        using var home = new TestPaths.TempFolder();
        var environment = Isolated(home.Path);
        var install = Dotnet.Run(home.Path, environment, "dotnet", "tool", "install", "--global", "dotnet-compress-model", "--version", packages.Version, "--add-source", packages.Feed);
        Assert.True(install.ExitCode == 0, install.Output);

        var tools = Path.Combine(home.Path, ".dotnet/tools"); // --global under DOTNET_CLI_HOME
        var version = Dotnet.Run(home.Path, environment, Path.Combine(tools, "dotnet-compress-model"), "--version");
        Assert.True(version.ExitCode == 0, version.Output);
        Assert.StartsWith(packages.Version + "+", version.Output.Trim());
        AssertOnlyThisRidsNatives(Path.Combine(tools, ".store"));
    }

    [Fact]
    public void ALocalInstall_ThroughAToolManifest_FetchesOnlyThisRidsPackage_AndEvaluatesAModel()
    {
        using var folder = new TestPaths.TempFolder();
        var environment = Isolated(folder.Path);
        File.WriteAllText(folder.File("NuGet.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration><packageSources><add key="e2e" value="{packages.Feed}" /></packageSources></configuration>
            """);
        Assert.Equal(0, Dotnet.Run(folder.Path, environment, "dotnet", "new", "tool-manifest").ExitCode);
        var install = Dotnet.Run(folder.Path, environment, "dotnet", "tool", "install", "dotnet-compress-model", "--version", packages.Version);
        Assert.True(install.ExitCode == 0, install.Output);

        // Local tools live in the NuGet cache: the pointer and this RID's package, no other.
        var cache = environment["NUGET_PACKAGES"]!;
        Assert.Equal(["dotnet-compress-model", $"dotnet-compress-model.{NativeFiles.HostRid}"], Directory.GetDirectories(cache).Select(Path.GetFileName).Order());
        AssertOnlyThisRidsNatives(cache);
        // evaluate runs ONNX Runtime, from this RID's package; `dotnet compress-model` finds the tool through the manifest.
        var evaluate = Dotnet.Run(folder.Path, environment, "dotnet", "compress-model", "evaluate", Path.Combine(TestPaths.RepoRoot, "samples/models/fashion_vgg.onnx"),
            "--data", TestPaths.FashionValidation, "--limit", "200", "--latency-samples", "5");
        Assert.True(evaluate.ExitCode == 0, evaluate.Output);
        Assert.Matches(@"Accuracy\s+\d+\.\d\d% top-1", evaluate.Output);
    }

    string Package(string id) => Path.Combine(packages.Feed, $"{id}.{packages.Version}.nupkg");

    static string Read(ZipArchive zip, string nameEnd)
    {
        using var reader = new StreamReader(zip.Entries.Single(e => e.FullName.EndsWith(nameEnd)).Open());
        return reader.ReadToEnd();
    }

    // A private NuGet cache and CLI home (global tools, the local tools' resolver cache) inside the test's folder.
    static Dictionary<string, string?> Isolated(string folder) => new()
    {
        ["NUGET_PACKAGES"] = Path.Combine(folder, ".nuget-packages"),
        ["DOTNET_CLI_HOME"] = folder,
    };

    static void AssertOnlyThisRidsNatives(string folder)
    {
        Assert.NotEmpty(Directory.GetFiles(folder, NativeFiles.OnnxRuntime, SearchOption.AllDirectories));
        Assert.Empty(Directory.GetDirectories(folder, "runtimes", SearchOption.AllDirectories));
        Assert.Empty(NativeFiles.ForOtherPlatforms(folder));
    }
}

using System.Diagnostics;

namespace ModelBuildTasks.Cli.Tests;

/// <summary>
/// The training add-on installed as a local tool (a tool manifest, <c>dotnet tool install</c> without
/// <c>--global</c>) is found by <c>dotnet compress-model train</c>. A fake add-on with the real
/// package id, command and RID-specific packaging (tests/FakeTrainingTool, a few KB instead of
/// libtorch) is packed and installed from a local feed, then run through the manifest exactly as a
/// user's would be.
/// </summary>
public class ToolManifestTests
{
    static readonly string FakeToolSource = Path.Combine(TestPaths.RepoRoot, "tests/FakeTrainingTool");

    internal static void Dotnet(string workingDirectory, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = workingDirectory };
        foreach (var a in args) start.ArgumentList.Add(a);
        // A private NuGet home: the fake package must never land in the machine's shared package cache.
        start.Environment["NUGET_PACKAGES"] = Path.Combine(workingDirectory, ".nuget-packages");
        // A private CLI home too: `dotnet tool run` resolves local tools through ~/.dotnet/toolResolverCache,
        // which would otherwise keep pointing at an earlier run's (deleted) package folder.
        start.Environment["DOTNET_CLI_HOME"] = Path.Combine(workingDirectory, ".dotnet-home");
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(10)), "dotnet " + string.Join(" ", args));
        Assert.True(process.ExitCode == 0, $"dotnet {string.Join(" ", args)}:\n{stdout.Result}\n{stderr.Result}");
    }

    [Fact]
    public void Train_FindsTheAddOn_ThroughALocalToolManifest_AndForwardsHelp()
    {
        using var temp = new TestPaths.TempFolder();
        var source = Directory.CreateDirectory(temp.File("src")).FullName;
        foreach (var file in Directory.GetFiles(FakeToolSource)) File.Copy(file, Path.Combine(source, Path.GetFileName(file)));
        var fake = Path.Combine(source, "FakeTrainingTool.csproj");
        Assert.Equal(RidsOf(Path.Combine(TestPaths.RepoRoot, "src/ModelBuildTasks.Training.Cli/ModelBuildTasks.Training.Cli.csproj")), RidsOf(fake));
        // As build/pack.sh packs it: the pointer (which lists every RID), then this machine's RID
        // package (the SDK's pack of all three RIDs takes four times as long).
        var rid = $"linux-{System.Runtime.InteropServices.RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant()}";
        Dotnet(temp.Path, "pack", fake, "-c", "Release", "-o", temp.File("feed"), "-p:CreateRidSpecificToolPackages=false");
        Dotnet(temp.Path, "pack", fake, "-c", "Release", "-o", temp.File("feed"), "-r", rid);
        var project = Directory.CreateDirectory(temp.File("app")).FullName;
        Dotnet(project, "new", "tool-manifest");
        Dotnet(project, "tool", "install", "dotnet-compress-model-train", "--version", "0.0.1-fake", "--add-source", temp.File("feed"));
        // Local tools live in the NuGet cache: the install took the pointer and this RID's package.
        Assert.Equal(["dotnet-compress-model-train", $"dotnet-compress-model-train.{rid}"], Directory.GetDirectories(Path.Combine(project, ".nuget-packages")).Select(Path.GetFileName).Order());

        var environment = new Dictionary<string, string?>
        {
            ["MBT_TRAINING_TOOL"] = null, ["PATH"] = "/usr/bin:/bin",
            ["NUGET_PACKAGES"] = Path.Combine(project, ".nuget-packages"), ["DOTNET_CLI_HOME"] = Path.Combine(project, ".dotnet-home"),
        };
        var help = CliRunner.RunIn(project, environment, "train", "--help");
        Assert.True(help.ExitCode == 0, help.Stderr);
        Assert.Contains("fake-training-tool args: [train] [--help]", help.Stdout); // dotnet tool run did not take --help for itself
        Assert.Contains("fake-training-tool usage: dotnet compress-model", help.Stdout);

        var run = CliRunner.RunIn(Directory.CreateDirectory(Path.Combine(project, "sub")).FullName, environment, "train", "m.onnx", "--train-data", "d", "-o", "x.onnx");
        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.Contains("fake-training-tool args: [train] [m.onnx] [--train-data] [d] [-o] [x.onnx]", run.Stdout); // found from a subfolder, as dotnet tool run searches
    }

    static string[] RidsOf(string project) =>
        System.Xml.Linq.XDocument.Load(project).Descendants("ToolPackageRuntimeIdentifiers").Single().Value.Split(';');

    [Fact]
    public void Train_WithAManifestThatDoesNotListTheAddOn_SaysHowToInstallIt()
    {
        using var temp = new TestPaths.TempFolder();
        File.WriteAllText(temp.File("dotnet-tools.json"), """{ "version": 1, "isRoot": true, "tools": { "dotnet-ef": { "version": "9.0.0", "commands": ["dotnet-ef"] } } }""");
        var result = CliRunner.RunIn(temp.Path, new Dictionary<string, string?> { ["MBT_TRAINING_TOOL"] = null, ["PATH"] = "/usr/bin:/bin" }, "train", "m.onnx", "--train-data", "d", "-o", "x.onnx");
        CliRunner.AssertCleanError(result, 2, ErrorCodes.InvalidSetting);
        Assert.Contains("dotnet tool install dotnet-compress-model-train", result.Stderr);
    }
}

using System.Diagnostics;

namespace ModelBuildTasks.Cli.Tests;

/// <summary>
/// Runs the real CompressModels task (built from src/) in a small project through <c>dotnet msbuild</c>;
/// the task runs the CLI built beside the tests out of process. The packed-package builds are in the end-to-end tests.
/// </summary>
static class MsBuildTask
{
    /// <summary>The task is the net10.0 build (the net8.0 one only feeds the package's net8.0 dependency group).</summary>
    internal static string TaskAssembly => Path.Combine(TestPaths.RepoRoot, "src/ModelBuildTasks.Build/bin/Release/net10.0/ModelBuildTasks.Build.dll");

    /// <summary>
    /// Writes <c>compress.proj</c> in <paramref name="folder"/> with <paramref name="items"/> (CompressModel
    /// elements) and builds it at minimal verbosity; returns the exit code and the output.
    /// </summary>
    public static (int ExitCode, string Output) Build(string folder, string items, string outputDirectory = "$(MSBuildProjectDirectory)/out", string cacheDirectory = "cache", string? engine = null) =>
        BuildWith(folder, "CompressModels", items, $"""
            EngineAssembly="{engine ?? Path.Combine(AppContext.BaseDirectory, "dotnet-compress-model.dll")}" ProjectDirectory="$(MSBuildProjectDirectory)"
            OutputDirectory="{outputDirectory}" CacheDirectory="{cacheDirectory}" AllowAccuracyMiss="true"
            """);

    /// <summary>Writes <c>compress.proj</c> running the GenerateModelWrappers task (design-time and uncompressed classes) on <paramref name="items"/>, and builds it.</summary>
    public static (int ExitCode, string Output) BuildWrappers(string folder, string items, bool embedsModel, bool skipCompressed = false) =>
        BuildWith(folder, "GenerateModelWrappers", items, $"""
            OutputDirectory="$(MSBuildProjectDirectory)/out" ProjectDirectory="$(MSBuildProjectDirectory)"
            Suffix="{(embedsModel ? ".uncompressed.g.cs" : ".designtime.g.cs")}" EmbedsModel="{embedsModel}" SkipCompressed="{skipCompressed}"
            """);

    // One project for either task: the items, then the task over them with its other parameters.
    static (int ExitCode, string Output) BuildWith(string folder, string task, string items, string parameters)
    {
        File.WriteAllText(Path.Combine(folder, "compress.proj"), $"""
            <Project>
              <UsingTask TaskName="ModelBuildTasks.Build.{task}" AssemblyFile="{TaskAssembly}" />
              <Target Name="Build">
                <ItemGroup>
                  {items}
                </ItemGroup>
                <{task} Models="@(CompressModel)" {parameters} />
              </Target>
            </Project>
            """);
        return Run(folder);
    }

    /// <summary>Builds the <c>compress.proj</c> already in <paramref name="folder"/> at minimal verbosity.</summary>
    public static (int ExitCode, string Output) Run(string folder)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = folder };
        foreach (var a in new[] { "msbuild", "compress.proj", "-v:m", "-nodeReuse:false", "-tl:off" }) start.ArgumentList.Add(a);
        start.Environment["CI"] = null;
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(20))); // only a hang guard
        return (process.ExitCode, output + stderr.Result);
    }
}

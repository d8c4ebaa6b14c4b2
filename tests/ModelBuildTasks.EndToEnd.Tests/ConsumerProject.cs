namespace ModelBuildTasks.EndToEnd.Tests;

/// <summary>A temporary app that references ModelBuildTasks from the test feed and lists one model.</summary>
sealed class ConsumerProject : IDisposable
{
    /// <param name="packages">The packed packages the app references.</param>
    /// <param name="itemAttributes">More attributes of the CompressModel item.</param>
    /// <param name="properties">More properties of the project.</param>
    /// <param name="targetFramework">The app's target framework.</param>
    /// <param name="subfolder">A folder for the project below the temporary one, which keeps NuGet.config as a repository's root does.</param>
    public ConsumerProject(PackedPackages packages, string itemAttributes, string properties = "", string targetFramework = "net10.0", string subfolder = "")
    {
        TargetFramework = targetFramework;
        root = Directory.CreateTempSubdirectory("mbt-app-").FullName;
        Folder = Directory.CreateDirectory(Path.Combine(root, subfolder)).FullName;
        var data = Path.Combine(TestPaths.RepoRoot, "samples/data/fashion-mnist");
        File.WriteAllText(Path.Combine(root, "NuGet.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="e2e" value="{packages.Feed}" />
              </packageSources>
            </configuration>
            """);
        File.WriteAllText(Path.Combine(Folder, "App.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>{targetFramework}</TargetFramework>
                <Nullable>enable</Nullable>
                <RootNamespace>E2E.App</RootNamespace>
                <ModelCompressionCacheDir>{packages.Cache}</ModelCompressionCacheDir>
                {properties}
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="ModelBuildTasks" Version="{packages.Version}" />
                <CompressModel Include="{Path.Combine(TestPaths.RepoRoot, "samples/models/fashion_vgg.onnx")}" ClassName="Classifier"
                               ValidationData="{data}/val-images-idx3-ubyte.gz" TestData="{data}/t10k-images-idx3-ubyte.gz" MaxValidationImages="300" {itemAttributes} />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(Folder, "Program.cs"), """
            using System.Linq;
            using E2E.App;
            var prediction = Classifier.Instance.Predict(new float[Classifier.InputSize]);
            System.Console.WriteLine($"prediction: {prediction.Label} of {Classifier.ClassCount} classes");
            var top = Classifier.Instance.TopK(new float[Classifier.InputSize], 3);
            System.Console.WriteLine($"top-3: {string.Join(", ", top.Select(p => $"{p.Label} {p.Score:0.000} (logit {p.Logit:0.00})"))}");
            System.Console.WriteLine($"probabilities sum to {Classifier.Instance.Probabilities(new float[Classifier.InputSize]).Sum():0.00}");
            foreach (var file in args) System.Console.WriteLine($"{System.IO.Path.GetFileName(file)}: {Classifier.Instance.PredictImage(file).Label}");
            System.Console.WriteLine($"runtime: {System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription}");
            """);
    }

    readonly string root;
    public string Folder { get; }
    public string TargetFramework { get; }
    public string Outputs => Path.Combine(Folder, $"obj/Debug/{TargetFramework}/ModelBuildTasks");
    public string Bin => Path.Combine(Folder, $"bin/Debug/{TargetFramework}");

    public Dotnet.Result Build(params string[] extra) => Dotnet.Build(Folder, extra);
    public Dotnet.Result Run(params string[] args) => Dotnet.Run(Folder, "dotnet", args);
    // Only the .NET 10 runtime is installed here: an app for an older .NET runs on it by rolling
    // forward (its assemblies, and the runtime library's, stay the net8.0 builds).
    public Dotnet.Result RunApp(params string[] args) =>
        Dotnet.Run(Folder, "dotnet", ["--roll-forward", "Major", Path.Combine(Bin, "App.dll"), .. args]);

    public void SetItemAttribute(string from, string to)
    {
        var path = Path.Combine(Folder, "App.csproj");
        File.WriteAllText(path, File.ReadAllText(path).Replace(from, to));
    }

    public void Dispose() => Directory.Delete(root, true);
}

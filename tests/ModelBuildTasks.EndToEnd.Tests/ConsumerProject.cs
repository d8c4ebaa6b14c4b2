namespace ModelBuildTasks.EndToEnd.Tests;

/// <summary>A temporary app that references ModelBuildTasks from the test feed and lists one model.</summary>
sealed class ConsumerProject : IDisposable
{
    public ConsumerProject(PackedPackages packages, string itemAttributes, string properties = "")
    {
        Folder = Directory.CreateTempSubdirectory("mbt-app-").FullName;
        var data = Path.Combine(TestPaths.RepoRoot, "samples/data/fashion-mnist");
        File.WriteAllText(Path.Combine(Folder, "NuGet.config"), $"""
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
                <TargetFramework>net10.0</TargetFramework>
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
            var prediction = E2E.App.Classifier.Instance.Predict(new float[E2E.App.Classifier.InputSize]);
            System.Console.WriteLine($"prediction: {prediction.Label} of {E2E.App.Classifier.ClassCount} classes");
            """);
    }

    public string Folder { get; }
    public string Outputs => Path.Combine(Folder, "obj/Debug/net10.0/ModelBuildTasks");

    public Dotnet.Result Build(params string[] extra) => Dotnet.Build(Folder, extra);
    public Dotnet.Result Run(params string[] args) => Dotnet.Run(Folder, "dotnet", args);
    public Dotnet.Result RunApp() => Dotnet.Run(Folder, "dotnet", Path.Combine(Folder, "bin/Debug/net10.0/App.dll"));

    public void SetItemAttribute(string from, string to)
    {
        var path = Path.Combine(Folder, "App.csproj");
        File.WriteAllText(path, File.ReadAllText(path).Replace(from, to));
    }

    public void Dispose() => Directory.Delete(Folder, true);
}

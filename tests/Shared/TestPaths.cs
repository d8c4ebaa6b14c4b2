using System.Reflection;

namespace ModelBuildTasks.Tests;

/// <summary>Where the repository's test inputs are.</summary>
static class TestPaths
{
    static string Metadata(string key) =>
        typeof(TestPaths).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == key).Value!;

    public static string RepoRoot => Metadata("RepoRoot");
    public static string ResNet18 => Metadata("ResNet18Path");
    public static string FashionTrain => Path.Combine(RepoRoot, "samples/data/fashion-mnist/train-images-idx3-ubyte.gz");
    public static string FashionValidation => Path.Combine(RepoRoot, "samples/data/fashion-mnist/val-images-idx3-ubyte.gz");
    public static string FashionTest => Path.Combine(RepoRoot, "samples/data/fashion-mnist/t10k-images-idx3-ubyte.gz");

    /// <summary>A fresh empty folder, deleted when disposed.</summary>
    public sealed class TempFolder : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("mbt-test-").FullName;
        public string File(string name) => System.IO.Path.Combine(Path, name);
        public void Dispose() => Directory.Delete(Path, recursive: true);
    }
}

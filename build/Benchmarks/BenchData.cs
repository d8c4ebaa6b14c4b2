using ModelBuildTasks.Data;

/// <summary>
/// The benchmarks' data: the 10k Fashion-MNIST test set split by seed 11 into validation (5,000:
/// the accuracy target is checked there) and test (5,000: held out, reported), written as IDX files
/// in a temporary folder that <see cref="Dispose"/> removes. The models were trained on the 60k
/// training set only.
/// </summary>
sealed class BenchData : IDisposable
{
    readonly string work = Directory.CreateTempSubdirectory("mbt-bench-").FullName;

    public BenchData(string dataDir)
    {
        var all = DatasetLoader.LoadRaw(Path.Combine(dataDir, "t10k-images-idx3-ubyte.gz"));
        var order = DatasetSplit.Permutation(all.Count, seed: 11);
        string Write(string name, int[] indices)
        {
            var part = all.Subset(indices);
            var path = Path.Combine(work, $"{name}-images-idx3-ubyte");
            IdxFormat.Write(path, [part.Count, 28, 28], part.Pixels.Select(v => (byte)v).ToArray());
            IdxFormat.Write(Path.Combine(work, $"{name}-labels-idx1-ubyte"), [part.Count], part.Labels!.Select(l => (byte)l).ToArray());
            return path;
        }
        Validation = Write("val", order[..5000]);
        Test = Write("test", order[5000..]);
    }

    /// <summary>The validation images file (labels beside it).</summary>
    public string Validation { get; }

    /// <summary>The test images file (labels beside it).</summary>
    public string Test { get; }

    public void Dispose() => Directory.Delete(work, true);
}

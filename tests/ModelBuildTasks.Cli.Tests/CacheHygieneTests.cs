using System.Text.RegularExpressions;

namespace ModelBuildTasks.Cli.Tests;

/// <summary>The local cache folder's size cap, least-recently-used eviction, and <c>cache list|prune</c>, on real entries.</summary>
public sealed class CacheHygieneTests : IDisposable
{
    static readonly string Validation = TestPaths.FashionValidation;
    static readonly string Vgg = Path.Combine(TestPaths.RepoRoot, "samples/models/fashion_vgg.onnx");
    readonly TestPaths.TempFolder temp = new();

    public CacheHygieneTests() => ModelBuildTasks.Graph.ModelFile.Save(TestModels.Plain(), temp.File("m.onnx"));

    string Cache => temp.File("cache");

    /// <summary>Compresses at <paramref name="bits"/> into the test's cache folder; returns the run and its key prefix.</summary>
    (CliRunner.Result Run, string Key) Compress(int bits, params string[] extra)
    {
        var run = CliRunner.Run(["compress", temp.File("m.onnx"), "--data", Validation, "--methods", "iq", "--bits", bits.ToString(), "--max-validation-images", "200",
            "-o", temp.File($"m{bits}.cmodel"), "--cache-dir", Cache, "--json", .. extra]);
        Assert.True(run.ExitCode == 0, run.Stderr);
        return (run, Regex.Match(run.Stderr, @"cache: (?:miss|hit) ([0-9a-f]{12})").Groups[1].Value);
    }

    string EntryFolder(string key12) => Directory.GetDirectories(Path.Combine(Cache, key12[..2]), key12 + "*").Single();

    List<string> Listed()
    {
        var list = CliRunner.Run("cache", "list", "--cache-dir", Cache, "--json");
        Assert.True(list.ExitCode == 0, list.Stderr);
        return list.Json.GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("key").GetString()![..12]).ToList();
    }

    [Fact]
    public void ListShowsEntriesByLastUse_PruneRemovesByAgeThenLeastRecentlyUsed()
    {
        var (_, old) = Compress(5);
        var (_, middle) = Compress(7);
        var (_, recent) = Compress(6);
        Directory.SetLastWriteTimeUtc(EntryFolder(old), DateTime.UtcNow.AddDays(-40));
        Directory.SetLastWriteTimeUtc(EntryFolder(middle), DateTime.UtcNow.AddDays(-10));
        Assert.Equal([recent, middle, old], Listed());
        var text = CliRunner.Run("cache", "list", "--cache-dir", Cache);
        Assert.Contains("3 entries", text.Stdout);
        Assert.Contains("m.onnx", text.Stdout);

        var byAge = CliRunner.Run("cache", "prune", "--cache-dir", Cache, "--older-than", "30d", "--json");
        Assert.True(byAge.ExitCode == 0, byAge.Stderr);
        Assert.Equal(old, byAge.Json.GetProperty("removed").EnumerateArray().Single().GetString()![..12]);
        Assert.Equal([recent, middle], Listed());

        // A hit makes an entry the most recently used, so the size cap now keeps it and drops the other.
        var (hit, _) = Compress(7);
        Assert.Equal("hit", hit.Json.GetProperty("cache").GetString());
        Assert.Equal([middle, recent], Listed());
        var oneEntry = Directory.EnumerateFiles(EntryFolder(middle)).Sum(f => new FileInfo(f).Length);
        var bySize = CliRunner.Run("cache", "prune", "--cache-dir", Cache, "--max-size", (oneEntry + 100).ToString());
        Assert.True(bySize.ExitCode == 0, bySize.Stderr);
        Assert.Contains("removed 1 entries", bySize.Stdout);
        Assert.Equal([middle], Listed());
    }

    [Fact]
    public void Compress_EvictsTheLeastRecentlyUsedEntries_BeyondTheSizeCap()
    {
        var (_, first) = Compress(5);
        var size = Directory.EnumerateFiles(EntryFolder(first)).Sum(f => new FileInfo(f).Length);
        var (second, secondKey) = Compress(7, "--cache-max-size", (size * 3 / 2).ToString());
        Assert.Contains($"cache: evicted {first}", second.Stderr);
        Assert.Equal([secondKey], Listed());
    }

    [Fact]
    public void PruneThatCannotRemoveEntries_SaysSo_WithAFailingExitCode()
    {
        var (_, key) = Compress(5);
        // A file where prune moves entries before deleting them: the file system refuses every removal,
        // as it does for a cache folder another user owns.
        if (Directory.Exists(Path.Combine(Cache, "tmp"))) Directory.Delete(Path.Combine(Cache, "tmp"), true);
        File.WriteAllText(Path.Combine(Cache, "tmp"), "in the way");
        var result = CliRunner.Run("cache", "prune", "--cache-dir", Cache, "--max-size", "1");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"error {ErrorCodes.FileSystemRefused}: ", result.Stderr);
        Assert.Contains("1 entries", result.Stderr);
        Assert.Contains("could not be removed", result.Stderr);
        Assert.Contains("removed 0 entries", result.Stdout);
        Assert.Equal([key], Listed());
        // With --json, stdout is one object: the summary with the error in it, not the summary and then an error object.
        var json = CliRunner.Run("cache", "prune", "--cache-dir", Cache, "--max-size", "1", "--json");
        Assert.Equal(1, json.ExitCode);
        Assert.Equal([key], json.Json.GetProperty("not_removed").EnumerateArray().Select(e => e.GetString()![..12]));
        Assert.Equal(ErrorCodes.FileSystemRefused, json.Json.GetProperty("error").GetProperty("code").GetString());
        Assert.Contains($"error {ErrorCodes.FileSystemRefused}: ", json.Stderr);
    }

    [Fact]
    public void FoldersThatAreNoEntries_AreNeitherListedNorPruned()
    {
        var (_, key) = Compress(5);
        Directory.CreateDirectory(Path.Combine(Cache, "ab", "ab")); // a short name in a shard: once an internal error in list
        Directory.CreateDirectory(Path.Combine(Cache, "ab", "ab" + new string('x', 62)));

        var list = CliRunner.Run("cache", "list", "--cache-dir", Cache);
        var prune = CliRunner.Run("cache", "prune", "--cache-dir", Cache, "--max-size", "0");

        Assert.True(list.ExitCode == 0, list.Stderr);
        Assert.Contains("1 entries", list.Stdout);
        Assert.Contains(key, list.Stdout);
        Assert.True(prune.ExitCode == 0, prune.Stderr);
        Assert.Contains("removed 1 entries", prune.Stdout);
        Assert.True(Directory.Exists(Path.Combine(Cache, "ab", "ab")));
    }

    [Fact]
    public void ABuildRemovesItsLockFile_PruneRemovesThoseOfKilledBuilds_ButNotOneARunningBuildHolds()
    {
        var (_, key) = Compress(5);
        var locks = Path.Combine(Cache, "locks");
        Assert.Empty(Directory.GetFiles(locks)); // its claim's file went with the claim; one stayed for every key ever compressed

        // What a killed build leaves (an empty file nobody holds), and the claim of a compression still running.
        var killed = Path.Combine(locks, new string('a', 64) + ".lock");
        File.WriteAllBytes(killed, []);
        var running = new string('b', 64);
        var held = new ModelBuildTasks.Compression.CompressionCache(Cache).Lock(running, () => { });
        Assert.NotNull(held);

        var prune = CliRunner.Run("cache", "prune", "--cache-dir", Cache, "--older-than", "30d", "--json");
        Assert.True(prune.ExitCode == 0, prune.Stderr);
        Assert.Equal(1, prune.Json.GetProperty("removed_locks").GetInt32());
        Assert.Empty(prune.Json.GetProperty("removed").EnumerateArray()); // entries only go by the limits
        Assert.Equal([running + ".lock"], Directory.GetFiles(locks).Select(Path.GetFileName));
        Assert.Equal([key], Listed());

        // A second build of the running one's model still waits for it: the claim survived the prune.
        Assert.Null(ModelBuildTasks.Compression.Caching.CacheKeyLock.TryTake(Path.Combine(locks, running + ".lock")));
        held!.Dispose();
        Assert.Empty(Directory.GetFiles(locks));

        File.WriteAllBytes(killed, []);
        var text = CliRunner.Run("cache", "prune", "--cache-dir", Cache, "--older-than", "30d");
        Assert.True(text.ExitCode == 0, text.Stderr);
        Assert.Contains("removed 0 entries", text.Stdout);
        Assert.Contains("removed 1 unused lock files", text.Stdout);
        Assert.False(File.Exists(killed));
    }

    [Theory]
    [InlineData("list")]
    [InlineData("prune")]
    [InlineData("compress")] // --check too: it was a warning on every write, and no cache at all
    public void ACacheDirThatIsAFile_IsAnError_NotAnEmptyCache(string command)
    {
        File.WriteAllText(temp.File("not-a-folder"), "");
        var result = CliRunner.Run(command switch
        {
            "list" => ["cache", "list", "--cache-dir", temp.File("not-a-folder")],
            "prune" => ["cache", "prune", "--cache-dir", temp.File("not-a-folder"), "--older-than", "1d"],
            _ => ["compress", Vgg, "--data", TestPaths.FashionTest, "-o", temp.File("x.cmodel"), "--cache-dir", temp.File("not-a-folder"), "--check"],
        });
        CliRunner.AssertCleanError(result, 2, ErrorCodes.InvalidSetting);
        Assert.Contains("--cache-dir is a file", result.Stderr);
    }

    [Theory]
    [InlineData("prune", "--max-size", "lots", "--max-size must be a size")]
    [InlineData("prune", "--older-than", "30x", "--older-than must be an age")]
    [InlineData("prune", "--older-than", "1e10d", "--older-than must be an age of at most")] // beyond TimeSpan: was an internal error (exit 3)
    [InlineData("prune", "--older-than", "infinityh", "--older-than must be an age of at most")]
    public void BadPruneArguments_FailCleanly(string command, string option, string value, string message)
    {
        var result = CliRunner.Run("cache", command, "--cache-dir", Cache, option, value);
        CliRunner.AssertCleanError(result, 2, ErrorCodes.InvalidSetting);
        Assert.Contains(message, result.Stderr);
    }

    public void Dispose() => temp.Dispose();
}

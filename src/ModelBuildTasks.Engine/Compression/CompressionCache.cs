using System.Security.Cryptography;
using System.Text;
using ModelBuildTasks.Container;
using ModelBuildTasks.Data;
using ModelBuildTasks.Graph;

namespace ModelBuildTasks.Compression;

/// <summary>
/// A content-addressed cache of compressed models, shared by every project and build of a user
/// (and by CI, when its cache folder is kept). The key hashes the model's bytes, the data's bytes,
/// the canonical settings and the engine version (and, when fine-tuning, the training add-on's
/// identity), never timestamps or paths, so a git checkout or a restored CI cache still hits. Entries
/// are written to a temporary folder and renamed into place, and verified on read: the report against
/// the SHA-256 stored beside it, the container against the SHA-256 the report records and its own
/// checksums. A damaged entry is deleted and rebuilt.
/// </summary>
public sealed class CompressionCache(string folder)
{
    const string ContainerFile = "model.cmodel";
    const string ReportFile = "report.json";
    // The report's own SHA-256: the report vouches for the container, this vouches for the report. An entry
    // without it (written before it existed) cannot be verified, so it counts as damaged and is rebuilt once:
    // serving unverified reports would exempt exactly the oldest entries from the check, and engine upgrades
    // already miss (the engine version is in the key), so only builds of the same version pay for it.
    const string ReportHashFile = "report.json.sha256";

    /// <summary>The default folder: <c>$XDG_CACHE_HOME/modelbuildtasks</c>, else <c>~/.cache/modelbuildtasks</c> (LocalAppData on Windows).</summary>
    public static string DefaultFolder
    {
        get
        {
            var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            var root = !string.IsNullOrEmpty(xdg) ? xdg
                : OperatingSystem.IsWindows() ? Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData)
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
            return Path.Combine(root, "modelbuildtasks");
        }
    }

    /// <summary>The cache folder.</summary>
    public string Folder { get; } = Path.GetFullPath(folder);

    /// <summary>The key of a compression: a SHA-256 over everything that decides its result.</summary>
    /// <param name="modelPath">The model file.</param>
    /// <param name="dataPath">The validation DATASET.</param>
    /// <param name="testDataPath">The held-out DATASET, if any.</param>
    /// <param name="settings">The compression settings; when they fine-tune, the training add-on the engine would run (<see cref="FineTuning.TrainingToolIdentity"/>) is part of the key.</param>
    /// <param name="allowMiss">Whether a missed target writes the original model: the entry then holds a different model.</param>
    public static string Key(string modelPath, string dataPath, string? testDataPath, CompressionSettings settings, bool allowMiss = false)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Add(string label, ReadOnlySpan<byte> bytes)
        {
            hash.AppendData(Encoding.UTF8.GetBytes($"{label}:{bytes.Length}\n"));
            hash.AppendData(bytes);
        }
        // Bumped when the engine writes other results for the same inputs (2: output_probabilities, label order, unused
        // weights; 3: images shrunk by resize= are antialiased, so accuracy, calibration and the search see other pixels;
        // 4: the margin search gives the reserves the last stage left back to slimming, which can end on another model;
        // 5: an output declared [N, C] is written with its inferred size, a symbolic image size is fixed from the data, and a
        // scale given for float data reaches image files after their range; the report has baseline_score_p5).
        Add("format", "mbt-cache-5"u8);
        Add("engine", Encoding.UTF8.GetBytes(Compressor.EngineVersion));
        Add("settings", Encoding.UTF8.GetBytes(settings.Canonical()));
        Add("allow_miss", allowMiss ? "1"u8 : "0"u8);
        // Canonical() joins labels with '|', so "a|b","c" and "a","b|c" read alike there: each label is added on its own, length-prefixed.
        Add("labels", settings.Labels is null ? "-"u8 : []);
        foreach (var label in settings.Labels ?? []) Add("label", Encoding.UTF8.GetBytes(label));
        Add("model", ModelFile.LoadOnnxBytes(modelPath)); // external data included
        // A fine-tuned model is the training add-on's work as much as the engine's: a new or rebuilt add-on
        // must not be served another's model. Added only when fine-tuning, so post-training keys neither
        // depend on the add-on nor changed when this was added.
        if (settings.FineTunes) Add("training_tool", Encoding.UTF8.GetBytes(FineTuning.TrainingToolIdentity.Find()));
        foreach (var (role, path) in new[] { ("data", dataPath), ("test", testDataPath), ("train", settings.FineTunes ? settings.TrainData : null) })
        {
            if (path is null) { Add(role, []); continue; }
            DatasetFiles.RequireExists(path);
            // A FIFO or device among the data files is a coded error here, before it could block the key.
            foreach (var file in DatasetFiles.Enumerate(path))
                Add($"{role}/{file.Relative}", InputFile.ReadAllBytes(file.Full, InputFile.MaxBytes, ErrorCodes.DatasetNotFound, ErrorCodes.InvalidDataset));
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>The cached container and report for <paramref name="key"/>, verified; null on a miss (a damaged or unverifiable entry is removed).</summary>
    public (byte[] Container, CompressionReport Report)? TryGet(string key)
    {
        var entry = EntryFolder(key);
        if (!Directory.Exists(entry)) return null;
        try
        {
            var container = File.ReadAllBytes(Path.Combine(entry, ContainerFile));
            var reportBytes = File.ReadAllBytes(Path.Combine(entry, ReportFile));
            var reportIntact = File.ReadAllText(Path.Combine(entry, ReportHashFile)).Trim() == Convert.ToHexStringLower(SHA256.HashData(reportBytes));
            var report = reportIntact ? CompressionReport.Parse(Encoding.UTF8.GetString(reportBytes)) : null;
            if (report is not null && report.ContainerSha256 == Convert.ToHexStringLower(SHA256.HashData(container)))
            {
                ModelContainer.Read(container); // checksums and structure
                return (container, report);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ContainerFormatException or System.Text.Json.JsonException) { }
        TryDelete(entry);
        return null;
    }

    /// <summary>Stores an entry atomically; a concurrent writer of the same key wins harmlessly.</summary>
    public void Put(string key, byte[] container, CompressionReport report)
    {
        var entry = EntryFolder(key);
        StaleTemp.Sweep(Path.Combine(Folder, "tmp")); // entries of builds killed before their rename
        var temp = Path.Combine(Folder, "tmp", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(temp);
        try
        {
            File.WriteAllBytes(Path.Combine(temp, ContainerFile), container);
            var reportBytes = Encoding.UTF8.GetBytes(report.ToJson());
            File.WriteAllBytes(Path.Combine(temp, ReportFile), reportBytes);
            File.WriteAllText(Path.Combine(temp, ReportHashFile), Convert.ToHexStringLower(SHA256.HashData(reportBytes)));
            Directory.CreateDirectory(Path.GetDirectoryName(entry)!);
            if (Directory.Exists(entry)) TryDelete(entry); // a damaged or stale entry
            Directory.Move(temp, entry);
        }
        catch (IOException) when (Directory.Exists(entry))
        {
            // Another build stored the same key first: same content by construction.
        }
        finally
        {
            TryDelete(temp);
        }
    }

    /// <summary>
    /// This process's claim on <paramref name="key"/> while it compresses: another build of the same model
    /// (a multi-targeted project's other framework, another project of the solution built at once) waits
    /// for it and then takes the stored result, instead of compressing the same model a second time. The
    /// lock is the OS's lock on an open file (<see cref="Caching.CacheKeyLock"/>), released when the process
    /// ends however it ends, its file removed on release; null when the folder cannot hold one (read-only),
    /// and then builds just do not wait for each other.
    /// </summary>
    /// <param name="key">The cache key.</param>
    /// <param name="waiting">Called once if another process holds the claim.</param>
    public IDisposable? Lock(string key, Action waiting)
    {
        var path = Path.Combine(LocksFolder, key + ".lock");
        try
        {
            Directory.CreateDirectory(LocksFolder);
            for (var first = true; ; first = false)
            {
                if (Caching.CacheKeyLock.TryTake(path) is { } held) return held;
                if (first) waiting();
                Thread.Sleep(250);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Where the claims' lock files are: <c>locks/KEY.lock</c>.</summary>
    public string LocksFolder => Path.Combine(Folder, "locks");

    string EntryFolder(string key) => Path.Combine(Folder, key[..2], key);

    static void TryDelete(string folder)
    {
        try { if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}

namespace ModelBuildTasks.Compression.Caching;

/// <summary>One entry of the local cache folder, as listed and pruned.</summary>
/// <param name="Key">The content key.</param>
/// <param name="Bytes">Bytes on disk (container and report).</param>
/// <param name="LastUsed">When it was last written or served (UTC).</param>
/// <param name="Report">Its report, or null when it cannot be read.</param>
public sealed record LocalCacheEntry(string Key, long Bytes, DateTime LastUsed, CompressionReport? Report);

/// <summary>
/// Hygiene for the local cache folder: listing, least-recently-used eviction under a size cap, and
/// removal by age. "Last used" is the entry folder's modification time, set on every hit, so it
/// survives a CI cache save and restore (which keep modification times) without an index to corrupt.
/// An entry is removed by renaming it into <c>tmp/</c> first, so a build reading it at that moment
/// sees a whole entry or none.
/// </summary>
public static class LocalCacheEntries
{
    /// <summary>Marks the entry for <paramref name="key"/> as used now (best effort: a read-only cache stays as it is).</summary>
    public static void Touch(CompressionCache cache, string key)
    {
        try { Directory.SetLastWriteTimeUtc(EntryFolder(cache.Folder, key), DateTime.UtcNow); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    /// <summary>Every entry in <paramref name="folder"/>, most recently used first.</summary>
    public static IReadOnlyList<LocalCacheEntry> List(string folder, bool withReports = true)
    {
        if (!Directory.Exists(folder)) return [];
        var entries = new List<LocalCacheEntry>();
        foreach (var shard in Directory.EnumerateDirectories(folder))
        {
            var shardName = Path.GetFileName(shard);
            if (shardName.Length != 2) continue; // tmp/ and anything else that is not an entry shard
            foreach (var entry in Directory.EnumerateDirectories(shard))
            {
                var key = Path.GetFileName(entry);
                // A key is a SHA-256 in lowercase hex: any other folder is not an entry, to list or to prune.
                if (!key.StartsWith(shardName, StringComparison.Ordinal) || key.Length != 64 || !key.All(char.IsAsciiHexDigitLower)) continue;
                try
                {
                    var info = new DirectoryInfo(entry);
                    var bytes = info.EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length);
                    CompressionReport? report = null;
                    var reportPath = Path.Combine(entry, "report.json");
                    if (withReports && File.Exists(reportPath)) report = CompressionReport.Parse(File.ReadAllText(reportPath));
                    entries.Add(new LocalCacheEntry(key, bytes, info.LastWriteTimeUtc, report));
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException) { } // removed meanwhile
            }
        }
        return entries.OrderByDescending(e => e.LastUsed).ThenBy(e => e.Key, StringComparer.Ordinal).ToList();
    }

    /// <summary>
    /// Removes entries unused for longer than <paramref name="olderThan"/>, then the least recently
    /// used ones until the rest fit in <paramref name="maxBytes"/>. Returns what was removed; what should
    /// have gone but could not (another user's files, a read-only folder) goes to <paramref name="refused"/>.
    /// </summary>
    public static IReadOnlyList<LocalCacheEntry> Prune(string folder, long? maxBytes, TimeSpan? olderThan, List<LocalCacheEntry>? refused = null)
    {
        RemoveLeftovers(folder);
        var entries = List(folder, withReports: false);
        var removed = new List<LocalCacheEntry>();
        var now = DateTime.UtcNow;
        long kept = 0;
        foreach (var entry in entries) // most recent first: the oldest are the ones that no longer fit
        {
            var tooOld = olderThan is { } age && now - entry.LastUsed > age;
            var tooBig = maxBytes is { } max && kept + entry.Bytes > max;
            if ((tooOld || tooBig) && Remove(folder, entry.Key)) removed.Add(entry);
            else
            {
                if (tooOld || tooBig) refused?.Add(entry);
                kept += entry.Bytes;
            }
        }
        return removed;
    }

    /// <summary>
    /// Removes the lock files in <paramref name="folder"/> that no process holds (left by builds that were
    /// killed: a build removes its own when it ends); a held one, a compression still running, stays.
    /// Returns how many were removed.
    /// </summary>
    public static int RemoveUnusedLocks(string folder)
    {
        var locks = new CompressionCache(folder).LocksFolder;
        if (!Directory.Exists(locks)) return 0;
        var removed = 0;
        foreach (var file in Directory.EnumerateFiles(locks, "*.lock"))
        {
            try
            {
                // Taken and released at once: released the way every holder releases it, which removes it safely.
                using var unused = CacheKeyLock.TryTake(file);
                if (unused is null) continue; // held
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue; // another user's, or a read-only folder
            }
            if (!File.Exists(file)) removed++;
        }
        return removed;
    }

    // Temporary folders of writes that never finished (a killed build) are older than any write in progress.
    static void RemoveLeftovers(string folder)
    {
        var tmp = Path.Combine(folder, "tmp");
        if (!Directory.Exists(tmp)) return;
        foreach (var leftover in Directory.EnumerateDirectories(tmp))
        {
            try { if (DateTime.UtcNow - Directory.GetLastWriteTimeUtc(leftover) > TimeSpan.FromDays(1)) Directory.Delete(leftover, recursive: true); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
    }

    static bool Remove(string folder, string key)
    {
        var trash = Path.Combine(folder, "tmp", "evict-" + Guid.NewGuid().ToString("N"));
        try
        {
            Directory.CreateDirectory(Path.Combine(folder, "tmp"));
            Directory.Move(EntryFolder(folder, key), trash);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
        // Moved out, the entry is gone from the cache; a trash folder that resists deletion (a file locked on
        // Windows) is left to RemoveLeftovers.
        try { Directory.Delete(trash, recursive: true); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        return true;
    }

    // The layout CompressionCache writes: FOLDER/ab/abcdef.../
    static string EntryFolder(string folder, string key) => Path.Combine(folder, key[..2], key);
}

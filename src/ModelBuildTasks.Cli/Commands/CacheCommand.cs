using System.CommandLine;
using System.Globalization;
using ModelBuildTasks.Compression;
using ModelBuildTasks.Compression.Caching;

namespace ModelBuildTasks.Cli.Commands;

/// <summary>
/// <c>cache list|prune</c>: what the local cache folder holds, and removing entries by size
/// (least recently used first) or by age. <c>compress</c> evicts by size on its own; this is for
/// inspecting, for CI jobs that trim a cache before saving it, and for a one-off clean-up. Prune also
/// removes the lock files of builds that were killed (a held one, a compression still running, stays).
/// </summary>
static class CacheCommand
{
    public static Command Create()
    {
        var dir = Dir();
        var json = Json();
        var list = new Command("list", "List the local cache's entries, most recently used first.") { dir, json };
        list.SetAction(result => ExitCodes.Guard(() =>
        {
            var folder = Folder(result.GetValue(dir));
            var entries = LocalCacheEntries.List(folder);
            if (result.GetValue(json))
            {
                JsonOutput.Write(new
                {
                    Folder = folder,
                    Bytes = entries.Sum(e => e.Bytes),
                    Entries = entries.Select(e => new
                    {
                        Key = e.Key, Bytes = e.Bytes, LastUsed = e.LastUsed.ToString("O", CultureInfo.InvariantCulture),
                        Model = e.Report?.Model, Ratio = e.Report?.Ratio, FinalAccuracy = e.Report?.FinalAccuracy,
                    }),
                });
                return ExitCodes.Ok;
            }
            Console.WriteLine($"{folder}: {entries.Count} entries, {Units.Bytes(entries.Sum(e => e.Bytes))}");
            foreach (var e in entries)
                Console.WriteLine($"{e.Key[..12]}  {e.LastUsed.ToLocalTime():yyyy-MM-dd HH:mm}  {Units.Bytes(e.Bytes),9}  {(e.Report is { } r ? $"{Path.GetFileName(r.Model)} {r.Ratio.ToString("0.00", CultureInfo.InvariantCulture)}x" : "(no report)")}");
            return ExitCodes.Ok;
        }));

        var maxSize = new Option<string?>("--max-size") { Description = "Keep at most this much (e.g. 2GB), removing the least recently used entries." };
        var olderThan = new Option<string?>("--older-than") { Description = "Remove entries unused for longer than this (e.g. 30d, 12h)." };
        var pruneDir = Dir();
        var pruneJson = Json();
        var prune = new Command("prune", "Remove local cache entries by size (least recently used first) and/or by age, and lock files no running build holds.") { pruneDir, maxSize, olderThan, pruneJson };
        prune.SetAction(result => ExitCodes.Guard(() =>
        {
            var folder = Folder(result.GetValue(pruneDir));
            long? max = result.GetValue(maxSize) is { } m ? Sizes.ParseBytes(m, "--max-size") : null;
            TimeSpan? age = result.GetValue(olderThan) is { } a ? Sizes.ParseAge(a, "--older-than") : null;
            if (max is null && age is null) throw new ModelBuildException(ErrorCodes.InvalidSetting, "cache prune needs --max-size and/or --older-than");
            var refused = new List<LocalCacheEntry>();
            var removed = LocalCacheEntries.Prune(folder, max, age, refused);
            // Lock files carry no result: whatever the limits, those no running build holds are leftovers of killed builds.
            var locks = LocalCacheEntries.RemoveUnusedLocks(folder);
            var left = LocalCacheEntries.List(folder, withReports: false);
            // A CI job that trims its cache must notice when it could not: an error after the summary, in the one JSON object.
            var error = refused.Count == 0 ? null : new Dictionary<string, string>
            {
                ["code"] = ErrorCodes.FileSystemRefused,
                ["message"] = $"{refused.Count} entries ({Units.Bytes(refused.Sum(e => e.Bytes))}) could not be removed: the folder or its entries are not writable by this user",
                ["file"] = folder,
            };
            if (result.GetValue(pruneJson))
            {
                JsonOutput.Write(new
                {
                    Folder = folder,
                    Removed = removed.Select(e => e.Key),
                    RemovedBytes = removed.Sum(e => e.Bytes),
                    NotRemoved = refused.Select(e => e.Key),
                    RemovedLocks = locks,
                    Entries = left.Count,
                    Bytes = left.Sum(e => e.Bytes),
                    Error = error,
                });
            }
            else Console.WriteLine($"removed {removed.Count} entries ({Units.Bytes(removed.Sum(e => e.Bytes))}); {left.Count} left ({Units.Bytes(left.Sum(e => e.Bytes))}) in {folder}"
                + (locks > 0 ? $"; removed {locks} unused lock files" : ""));
            if (error is null) return ExitCodes.Ok;
            Console.Error.WriteLine($"{folder}: error {error["code"]}: {error["message"]}");
            return ExitCodes.InputError;
        }));

        return new Command("cache", "Inspect and prune the local compression cache.") { list, prune };
    }

    static Option<string?> Dir() => new("--cache-dir") { Description = "Cache folder (default ~/.cache/modelbuildtasks)." };

    static Option<bool> Json() => new("--json") { Description = "Write JSON to stdout." };

    static string Folder(string? given)
    {
        var folder = Path.GetFullPath(given ?? CompressionCache.DefaultFolder);
        // A file is no cache: listing it as empty would hide the mistyped path.
        if (File.Exists(folder)) throw new ModelBuildException(ErrorCodes.InvalidSetting, "--cache-dir is a file, not a cache folder", folder);
        return folder;
    }
}

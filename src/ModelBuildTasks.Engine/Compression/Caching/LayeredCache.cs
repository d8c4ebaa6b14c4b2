using System.Diagnostics;

namespace ModelBuildTasks.Compression.Caching;

/// <summary>
/// The two cache levels together: the local folder first, then the remote cache. A remote hit is
/// written back to the folder; a miss, once compressed, goes to both (the remote one only when
/// writable). Everything the remote cache does wrong (unreachable, slow, denied, damaged entries)
/// becomes a warning through <see cref="Warn"/>; the build goes on as if it had missed.
/// </summary>
public sealed class LayeredCache : IDisposable
{
    readonly CompressionCache? local;
    readonly IRemoteCache? remote;
    readonly bool remoteReadOnly;
    readonly TimeSpan timeout;
    readonly long? localMaxBytes;
    bool remoteFailed;
    string? damagedVersion;

    /// <param name="local">The local folder, or null for none.</param>
    /// <param name="remote">The remote cache, or null for none. Disposed with this.</param>
    /// <param name="remoteReadOnly">Never write to the remote cache (pull-request builds).</param>
    /// <param name="timeout">Time each remote operation may take before it is abandoned with a warning.</param>
    /// <param name="localMaxBytes">Evict the least recently used local entries beyond this size after a write; null for no cap.</param>
    public LayeredCache(CompressionCache? local, IRemoteCache? remote, bool remoteReadOnly, TimeSpan timeout, long? localMaxBytes)
    {
        this.local = local;
        this.remote = remote;
        this.remoteReadOnly = remoteReadOnly;
        this.timeout = timeout;
        this.localMaxBytes = localMaxBytes;
    }

    /// <summary>Receives (code, message) warnings; messages carry no credentials.</summary>
    public Action<string, string> Warn { get; init; } = (_, _) => { };

    /// <summary>Receives progress lines about the cache.</summary>
    public Action<string> Info { get; init; } = _ => { };

    /// <summary>Whether any level is on.</summary>
    public bool Enabled => local is not null || remote is not null;

    /// <summary>
    /// The verified entry for <paramref name="key"/> and where it came from: <c>hit</c> (local folder)
    /// or <c>remote-hit</c>; null on a miss at every level (with <paramref name="localOnly"/>, at the local
    /// folder, quietly: the look again after a claim).
    /// </summary>
    public (byte[] Container, CompressionReport Report, string Source)? TryGet(string key, bool localOnly = false)
    {
        if (local?.TryGet(key) is { } hit)
        {
            LocalCacheEntries.Touch(local, key);
            Info($"cache: hit {key[..12]} in {local.Folder}");
            return (hit.Container, hit.Report, "hit");
        }
        if (localOnly) return null;
        if (remote is null) return Miss(key);
        var watch = Stopwatch.StartNew();
        if (!TryRemote("look up", c => remote.TryGetAsync(key, c), out var entry) || entry is null) return Miss(key);
        if (entry.Intact && CacheEntryFormat.TryDecode(entry.Bytes) is { } decoded)
        {
            KeepLocally(key, decoded.Container, decoded.Report);
            Info($"cache: remote-hit {key[..12]} from {remote.Location} ({entry.Bytes.Length:N0} bytes in {watch.Elapsed.TotalSeconds:0.00} s)");
            return (decoded.Container, decoded.Report, "remote-hit");
        }
        damagedVersion = entry.Version;
        Warn(ErrorCodes.RemoteCacheEntryDamaged, $"remote cache {remote.Location}: the entry {key[..12]} failed verification; it is ignored{(remoteReadOnly ? "" : " and will be replaced")}");
        return Miss(key);
    }

    (byte[], CompressionReport, string)? Miss(string key)
    {
        Info($"cache: miss {key[..12]}{(remote is null ? "" : $" (also in {remote.Location})")}");
        return null;
    }

    /// <summary>
    /// Claims <paramref name="key"/> in the local folder while this process compresses it (<see cref="CompressionCache.Lock"/>),
    /// waiting while another build holds it; the caller then looks again, since that build may have stored the result.
    /// </summary>
    public IDisposable? Claim(string key) =>
        local?.Lock(key, () => Info($"cache: waiting for another build that compresses the same model ({key[..12]})"));

    /// <summary>Stores a fresh result in the local folder and, unless read-only, in the remote cache.</summary>
    public void Put(string key, byte[] container, CompressionReport report)
    {
        KeepLocally(key, container, report);
        if (remote is null || remoteFailed) return;
        if (remoteReadOnly)
        {
            Info($"cache: read-only, not uploading {key[..12]} to {remote.Location}");
            return;
        }
        var entry = CacheEntryFormat.Encode(container, report);
        if (TryRemote("upload", c => remote.PutAsync(key, entry, damagedVersion, c), out var outcome)) Info(outcome == RemotePutOutcome.Stored
            ? $"cache: uploaded {key[..12]} to {remote.Location} ({entry.Length:N0} bytes)"
            : $"cache: {key[..12]} was uploaded to {remote.Location} by another build first");
    }

    // Storing is an optimisation: a read-only or full folder (or a file where an entry goes) must not
    // throw away a compression that succeeded, nor a remote hit that was verified.
    void KeepLocally(string key, byte[] container, CompressionReport report)
    {
        try
        {
            local?.Put(key, container, report);
            Evict();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Warn(ErrorCodes.CacheUnavailable, $"the result was not cached in {local!.Folder} ({e.Message.TrimEnd('.')}); it is written all the same");
        }
    }

    void Evict()
    {
        if (local is null || localMaxBytes is not { } max) return;
        foreach (var evicted in LocalCacheEntries.Prune(local.Folder, max, null))
            Info($"cache: evicted {evicted.Key[..12]} ({evicted.Bytes:N0} bytes, last used {evicted.LastUsed:yyyy-MM-dd}) to stay under {max:N0} bytes");
    }

    // One remote operation under the timeout; a failure is a warning, and the remote cache is not
    // tried again in this run (an unreachable service would otherwise cost the timeout twice).
    bool TryRemote<T>(string operation, Func<CancellationToken, Task<T>> run, out T result)
    {
        result = default!;
        if (remoteFailed) return false;
        using var cancellation = new CancellationTokenSource(timeout);
        try
        {
            result = run(cancellation.Token).GetAwaiter().GetResult();
            return true;
        }
        catch (Exception e) when (e is not OutOfMemoryException) // whatever goes wrong with a cache, the build can do without it
        {
            remoteFailed = true;
            var reason = e is OperationCanceledException or TimeoutException
                ? $"no answer within {timeout.TotalSeconds:0.#} s"
                : RemoteCacheUrl.Scrub(Reason(e));
            Warn(ErrorCodes.RemoteCacheUnavailable, $"remote cache {remote!.Location}: {operation} failed ({reason}); the build goes on without it");
            return false;
        }
    }

    // The transport's own words (e.g. "Connection refused (HOST:PORT)"), not the retry policy's wrapping.
    static string Reason(Exception e) => e is AggregateException aggregate
        ? string.Join("; ", aggregate.Flatten().InnerExceptions.Select(i => i.InnerException?.Message ?? i.Message).Distinct())
        : e.Message;

    /// <inheritdoc />
    public void Dispose() => remote?.Dispose();
}

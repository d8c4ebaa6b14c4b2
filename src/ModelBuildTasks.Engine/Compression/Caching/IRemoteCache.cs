namespace ModelBuildTasks.Compression.Caching;

/// <summary>
/// A content-addressed store of cache entries on a shared service (object storage), the second
/// level behind the local <see cref="CompressionCache"/>. A backend only moves opaque, self-checking
/// entries (<see cref="CacheEntryFormat"/>) by key; <see cref="LayeredCache"/> decides what to trust.
/// Failures of the service (unreachable, slow, denied) are thrown as <see cref="RemoteCacheException"/>,
/// which callers turn into warnings, never into failed builds.
/// </summary>
public interface IRemoteCache : IDisposable
{
    /// <summary>Where the cache is, safe to print: no credentials, no query string.</summary>
    string Location { get; }

    /// <summary>
    /// The entry stored under <paramref name="key"/>, or null when there is none. The backend checks
    /// what the service promises about the bytes (the stored checksum and SHA-256); an entry that fails
    /// those checks comes back with <see cref="RemoteEntry.Intact"/> false, so it can be replaced.
    /// </summary>
    Task<RemoteEntry?> TryGetAsync(string key, CancellationToken cancellation);

    /// <summary>
    /// Stores <paramref name="entry"/> under <paramref name="key"/> atomically and only if the key is
    /// absent, or, with <paramref name="replacing"/>, only if the stored entry is still that damaged
    /// version. Losing either race is not an error: the winner stored the same content.
    /// </summary>
    Task<RemotePutOutcome> PutAsync(string key, byte[] entry, string? replacing, CancellationToken cancellation);
}

namespace ModelBuildTasks.Compression.Caching;

/// <summary>An entry as downloaded from a remote cache.</summary>
/// <param name="Bytes">The entry (see <see cref="CacheEntryFormat"/>).</param>
/// <param name="Version">The service's version of the stored object (an ETag), so a damaged entry can be replaced conditionally.</param>
/// <param name="Intact">Whether the bytes match the checksum and SHA-256 stored with them.</param>
public sealed record RemoteEntry(byte[] Bytes, string Version, bool Intact);

/// <summary>What a conditional upload to a remote cache did.</summary>
public enum RemotePutOutcome
{
    /// <summary>The entry was stored.</summary>
    Stored,
    /// <summary>Another writer stored the key first (same content by construction); nothing was written.</summary>
    AlreadyPresent,
}

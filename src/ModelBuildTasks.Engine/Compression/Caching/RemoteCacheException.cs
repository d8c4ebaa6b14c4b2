namespace ModelBuildTasks.Compression.Caching;

/// <summary>
/// The remote cache could not be used (unreachable, timed out, access denied, unexpected answer).
/// The message is safe to print: it never carries a URL query, a key or a signature.
/// </summary>
public sealed class RemoteCacheException(string message, Exception? inner = null) : Exception(message, inner);

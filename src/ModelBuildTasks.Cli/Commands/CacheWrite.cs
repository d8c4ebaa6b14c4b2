using ModelBuildTasks.Compression;

namespace ModelBuildTasks.Cli.Commands;

/// <summary>
/// Storing a result in the cache is an optimisation: when it fails (a read-only or full cache, a
/// file where an entry goes) the compression has still succeeded, so the failure is a warning and
/// the result is written as usual, never thrown away.
/// </summary>
static class CacheWrite
{
    public static void Put(CompressionCache cache, string key, byte[] container, CompressionReport report, string modelPath)
    {
        try
        {
            cache.Put(key, container, report);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"{modelPath}: warning {ErrorCodes.CacheUnavailable}: the result was not cached ({e.Message.TrimEnd('.')}); it is written all the same");
        }
    }
}

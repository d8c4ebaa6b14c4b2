using System.CommandLine;
using ModelBuildTasks.Compression;
using ModelBuildTasks.Compression.Caching;

namespace ModelBuildTasks.Cli.Commands;

/// <summary>
/// The cache options of <c>compress</c> and how they become a <see cref="LayeredCache"/>: the local
/// folder (<c>--cache-dir</c>, <c>--no-cache</c>, <c>--cache-max-size</c>) and the remote cache
/// (<c>--cache-url</c>, <c>--cache-read-only</c>, <c>--cache-timeout</c>). Credentials never come
/// from the command line, which build logs record: a SAS in the URL, or the environment.
/// </summary>
sealed class CacheOptions
{
    /// <summary>The local cap when none is given: enough for hundreds of models, small for a CI cache.</summary>
    public const string DefaultMaxSize = "2GB";

    readonly Option<string?> dir = new("--cache-dir") { Description = "Cache folder (default ~/.cache/modelbuildtasks)." };
    readonly Option<bool> off = new("--no-cache") { Description = "Neither read nor write any cache." };
    readonly Option<string> maxSize = new("--cache-max-size") { Description = "Evict the least recently used local entries beyond this size (0 = no cap).", DefaultValueFactory = _ => DefaultMaxSize };
    readonly Option<string?> url = new("--cache-url") { Description = "Shared remote cache: a blob container URL (https://ACCOUNT.blob.core.windows.net/CONTAINER). Credentials: a SAS in the URL, AZURE_STORAGE_SAS_TOKEN or AZURE_STORAGE_CONNECTION_STRING. Default: $MBT_CACHE_URL." };
    readonly Option<bool> readOnly = new("--cache-read-only") { Description = "Read the remote cache but never write to it (pull-request builds)." };
    readonly Option<double> timeout = new("--cache-timeout") { Description = "Seconds a remote cache operation may take before the build goes on without it.", DefaultValueFactory = _ => 20 };

    /// <summary>Adds the options to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { dir, off, maxSize, url, readOnly, timeout }) command.Add(option);
    }

    /// <summary>
    /// Throws the coded error <see cref="Open"/> would throw for these options, without touching the
    /// cache folder or the network: <c>compress --check</c> must refuse what the run would refuse.
    /// </summary>
    public void Check(ParseResult result)
    {
        if (result.GetValue(off)) return;
        var (_, _, remote) = Settings(result);
        remote?.Dispose(); // only a client object: nothing was sent
    }

    /// <summary>The caches the options ask for; warnings and progress go to stderr, prefixed with <paramref name="origin"/>.</summary>
    public LayeredCache Open(ParseResult result, string origin)
    {
        if (result.GetValue(off)) return new LayeredCache(null, null, false, TimeSpan.Zero, null);
        var (seconds, cap, remote) = Settings(result);
        var local = new CompressionCache(result.GetValue(dir) ?? CompressionCache.DefaultFolder);
        var readOnlyEnv = Environment.GetEnvironmentVariable("MBT_CACHE_READ_ONLY") is "1" or "true" or "True";
        return new LayeredCache(local, remote, result.GetValue(readOnly) || readOnlyEnv, TimeSpan.FromSeconds(seconds), cap > 0 ? cap : null)
        {
            Warn = (code, message) => Console.Error.WriteLine($"{origin}: warning {code}: {message}"),
            Info = CliOutput.Info,
        };
    }

    const double MaxTimeoutSeconds = 86_400;

    // The timeout, the local cap and the remote cache (null for none), each checked.
    (double Seconds, long Cap, IRemoteCache? Remote) Settings(ParseResult result)
    {
        var seconds = result.GetValue(timeout);
        // A day at most: TimeSpan and the retry delays derived from it overflow long before 1e300 seconds.
        if (!(seconds > 0) || seconds > MaxTimeoutSeconds)
            throw new ModelBuildException(ErrorCodes.InvalidSetting, $"--cache-timeout must be a number of seconds above 0 and at most {MaxTimeoutSeconds}, not {seconds}");
        var cap = Sizes.ParseBytes(result.GetValue(maxSize)!, "--cache-max-size");
        // A file is no cache folder: as cache list and prune say, rather than a warning on every write and no cache at all.
        // (Only one given: a file where the default folder goes costs warnings, not every build of the user's.)
        if (result.GetValue(dir) is { } folder && File.Exists(Path.GetFullPath(folder)))
            throw new ModelBuildException(ErrorCodes.InvalidSetting, "--cache-dir is a file, not a cache folder", Path.GetFullPath(folder));
        var remoteUrl = result.GetValue(url) is { Length: > 0 } given ? given : Environment.GetEnvironmentVariable("MBT_CACHE_URL");
        var remote = string.IsNullOrWhiteSpace(remoteUrl) ? null : RemoteCacheUrl.Open(remoteUrl.Trim(), TimeSpan.FromSeconds(seconds), Environment.GetEnvironmentVariable);
        return (seconds, cap, remote);
    }
}

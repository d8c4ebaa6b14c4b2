using System.Text.RegularExpressions;

namespace ModelBuildTasks.Compression.Caching;

/// <summary>
/// Cache URLs: which backend serves one, and how to print one without its credentials.
/// </summary>
public static partial class RemoteCacheUrl
{
    /// <summary>
    /// Opens the remote cache at <paramref name="url"/>: today an Azure Blob Storage container. Another
    /// backend (an S3-compatible store, say <c>s3://BUCKET/PREFIX</c>) is one more case here.
    /// A URL that cannot name a cache is a setting error (MBT1301), unlike a cache that cannot be reached.
    /// </summary>
    public static IRemoteCache Open(string url, TimeSpan timeout, Func<string, string?> environment)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp))
            throw new ModelBuildException(ErrorCodes.InvalidSetting, $"the cache URL must be a blob container URL (https://ACCOUNT.blob.core.windows.net/CONTAINER), not '{Redact(url)}'");
        var segments = uri.AbsolutePath.Trim('/').Split('/', StringSplitOptions.RemoveEmptyEntries);
        // The emulator and IP-style endpoints put the account in the path: /ACCOUNT/CONTAINER.
        var pathStyle = uri.HostNameType is UriHostNameType.IPv4 or UriHostNameType.IPv6 || uri.IsLoopback;
        if (segments.Length != (pathStyle ? 2 : 1))
            throw new ModelBuildException(ErrorCodes.InvalidSetting, $"the cache URL must name one blob container ({(pathStyle ? "http://HOST:PORT/ACCOUNT/CONTAINER" : "https://ACCOUNT.blob.core.windows.net/CONTAINER")}), not '{Redact(url)}'");
        return AzureBlobRemoteCache.Open(uri, timeout, environment);
    }

    /// <summary>The URL without its query (where a SAS token lives) or user information, safe to print.</summary>
    public static string Redact(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri) ? Redact(uri) : Scrub(url.Split('?')[0]);

    /// <summary>The URL without its query (where a SAS token lives) or user information, safe to print.</summary>
    public static string Redact(Uri url) => url.GetComponents(UriComponents.SchemeAndServer | UriComponents.Path, UriFormat.UriEscaped);

    /// <summary>Removes anything that looks like a SAS signature or account key from a message before it is printed.</summary>
    public static string Scrub(string text) => Secrets().Replace(text, m => m.Groups[1].Value + "=REDACTED");

    [GeneratedRegex(@"\b(sig|AccountKey|SharedAccessSignature)=[^&;\s""']+", RegexOptions.IgnoreCase)]
    private static partial Regex Secrets();
}

using System.Security.Cryptography;
using Azure;
using Azure.Core;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;

namespace ModelBuildTasks.Compression.Caching;

/// <summary>
/// The remote cache on an Azure Blob Storage container (or Azurite): one block blob per key,
/// <c>mbt/v1/KEY</c>, holding a <see cref="CacheEntryFormat"/> entry, with its MD5 as the blob's
/// Content-MD5 and its SHA-256 as metadata. Uploads are single conditional writes: If-None-Match: *
/// for a new key, If-Match: ETAG to replace one damaged version, so concurrent writers never
/// overwrite each other and a reader never sees half an entry.
/// </summary>
public sealed class AzureBlobRemoteCache : IRemoteCache
{
    const string Prefix = "mbt/v1/";
    const string ShaMetadata = "sha256";
    readonly BlobContainerClient container;
    bool containerChecked;

    AzureBlobRemoteCache(BlobContainerClient container, string location)
    {
        this.container = container;
        Location = location;
    }

    /// <inheritdoc />
    public string Location { get; }

    /// <summary>
    /// Opens the container at <paramref name="url"/> with the credentials the Azure tools use: a SAS
    /// in the URL, else <c>AZURE_STORAGE_SAS_TOKEN</c>, else <c>AZURE_STORAGE_CONNECTION_STRING</c>
    /// (account key or SAS), else anonymous access (enough to read a public container).
    /// </summary>
    /// <param name="url">The container URL, <c>https://ACCOUNT.blob.core.windows.net/CONTAINER</c> or the emulator's <c>http://127.0.0.1:PORT/ACCOUNT/CONTAINER</c>.</param>
    /// <param name="timeout">Time allowed for each try of a request before it is abandoned.</param>
    /// <param name="environment">Reads an environment variable (a parameter so tests can isolate it).</param>
    public static AzureBlobRemoteCache Open(Uri url, TimeSpan timeout, Func<string, string?> environment)
    {
        var options = new BlobClientOptions();
        // Few, short retries: a cache that does not answer must cost a build seconds, not minutes.
        options.Retry.Mode = RetryMode.Exponential;
        options.Retry.MaxRetries = 2;
        options.Retry.Delay = TimeSpan.FromMilliseconds(250);
        options.Retry.MaxDelay = TimeSpan.FromSeconds(2);
        options.Retry.NetworkTimeout = timeout;
        options.Diagnostics.IsLoggingEnabled = false;
        options.Diagnostics.IsDistributedTracingEnabled = false;

        var location = RemoteCacheUrl.Redact(url);
        try
        {
            return new AzureBlobRemoteCache(Client(url, new Uri(location), options, environment), location);
        }
        catch (Exception e) when (e is FormatException or ArgumentException)
        {
            // Malformed credentials are a setting to fix, not an outage to build through; the values are never repeated.
            throw new ModelBuildException(ErrorCodes.InvalidSetting, $"the credentials for the remote cache {location} are malformed (the SAS in the URL, AZURE_STORAGE_SAS_TOKEN or AZURE_STORAGE_CONNECTION_STRING): {e.GetType().Name}");
        }
    }

    static BlobContainerClient Client(Uri url, Uri bare, BlobClientOptions options, Func<string, string?> environment)
    {
        BlobContainerClient client;
        if (url.Query.Length > 1) client = new BlobContainerClient(url, options);
        else if (environment("AZURE_STORAGE_SAS_TOKEN") is { Length: > 0 } sas) client = new BlobContainerClient(bare, new AzureSasCredential(NormalizeSas(sas)), options);
        else if (environment("AZURE_STORAGE_CONNECTION_STRING") is { Length: > 0 } connection) client = AzureConnectionString.Credential(connection) switch
        {
            Azure.Storage.StorageSharedKeyCredential key => new BlobContainerClient(bare, key, options),
            AzureSasCredential token => new BlobContainerClient(bare, token, options),
            _ => new BlobContainerClient(bare, options),
        };
        else client = new BlobContainerClient(bare, options);
        return client;
    }

    // A SAS that passed through MSBuild arrives with its %XX escapes undone ('+' and '=' of the
    // signature bare), which the service would misread; escape any value that has no escapes left.
    static string NormalizeSas(string sas) => string.Join("&", sas.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries).Select(pair =>
        pair.Split('=', 2) is [var name, var value] && !value.Contains('%') ? $"{name}={Uri.EscapeDataString(value)}" : pair));

    /// <inheritdoc />
    public async Task<RemoteEntry?> TryGetAsync(string key, CancellationToken cancellation)
    {
        try
        {
            var response = await container.GetBlobClient(Prefix + key).DownloadContentAsync(cancellation).ConfigureAwait(false);
            var bytes = response.Value.Content.ToArray();
            var details = response.Value.Details;
            var md5 = details.ContentHash is { Length: 16 } stored && MD5.HashData(bytes).AsSpan().SequenceEqual(stored);
            var sha = details.Metadata.TryGetValue(ShaMetadata, out var recorded) && recorded == Convert.ToHexStringLower(SHA256.HashData(bytes));
            return new RemoteEntry(bytes, details.ETag.ToString(), md5 && sha);
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return null; // no such blob, or no container yet: both are misses
        }
        catch (RequestFailedException e)
        {
            throw Failure("download", e);
        }
    }

    /// <inheritdoc />
    public async Task<RemotePutOutcome> PutAsync(string key, byte[] entry, string? replacing, CancellationToken cancellation)
    {
        var options = new BlobUploadOptions
        {
            Conditions = replacing is null ? new BlobRequestConditions { IfNoneMatch = ETag.All } : new BlobRequestConditions { IfMatch = new ETag(replacing) },
            HttpHeaders = new BlobHttpHeaders { ContentHash = MD5.HashData(entry), ContentType = "application/octet-stream" },
            Metadata = new Dictionary<string, string> { [ShaMetadata] = Convert.ToHexStringLower(SHA256.HashData(entry)) },
            // One Put Blob up to 256 MB: the write is all or nothing (larger entries commit a block list, which is too).
            TransferOptions = new Azure.Storage.StorageTransferOptions { InitialTransferSize = 256L << 20, MaximumTransferSize = 64L << 20 },
        };
        var blob = container.GetBlobClient(Prefix + key);
        while (true)
        {
            try
            {
                await blob.UploadAsync(BinaryData.FromBytes(entry), options, cancellation).ConfigureAwait(false);
                return RemotePutOutcome.Stored;
            }
            catch (RequestFailedException e) when (e.Status is 409 or 412)
            {
                return RemotePutOutcome.AlreadyPresent; // BlobAlreadyExists (If-None-Match) or ConditionNotMet (If-Match): another writer was first
            }
            catch (RequestFailedException e) when (e.Status == 404 && e.ErrorCode == "ContainerNotFound" && !containerChecked)
            {
                // A new cache: create the container once (a race with another creator is fine).
                containerChecked = true;
                try { await container.CreateIfNotExistsAsync(cancellationToken: cancellation).ConfigureAwait(false); }
                catch (RequestFailedException create) { throw Failure("create the container", create); }
            }
            catch (RequestFailedException e)
            {
                throw Failure("upload", e);
            }
        }
    }

    static RemoteCacheException Failure(string operation, RequestFailedException e) => e.Status switch
    {
        0 => new RemoteCacheException($"cannot {operation}: {RemoteCacheUrl.Scrub(e.InnerException?.Message ?? "no connection")}", e),
        401 or 403 => new RemoteCacheException($"cannot {operation}: access denied (HTTP {e.Status} {e.ErrorCode}); check the credentials, or use the cache read-only", e),
        _ => new RemoteCacheException($"cannot {operation}: HTTP {e.Status} {e.ErrorCode}", e),
    };

    /// <inheritdoc />
    public void Dispose() { }
}

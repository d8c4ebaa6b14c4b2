using Azure;
using Azure.Storage;

namespace ModelBuildTasks.Compression.Caching;

/// <summary>
/// The credential in an Azure Storage connection string (<c>AZURE_STORAGE_CONNECTION_STRING</c>):
/// an account name and key, a SAS, or the emulator's well-known account. Only the credential is
/// taken; the container URL says where the cache is.
/// </summary>
static class AzureConnectionString
{
    // Azurite's and the old emulator's documented development account (public by design).
    const string DevelopmentAccount = "devstoreaccount1";
    const string DevelopmentKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    /// <summary>A <see cref="StorageSharedKeyCredential"/>, an <see cref="AzureSasCredential"/>, or null when the string has neither.</summary>
    public static object? Credential(string connectionString)
    {
        var parts = connectionString.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(p => p.Split('=', 2))
            .Where(p => p.Length == 2)
            .GroupBy(p => p[0], StringComparer.OrdinalIgnoreCase)
            .ToDictionary(g => g.Key, g => g.Last()[1], StringComparer.OrdinalIgnoreCase);
        if (parts.TryGetValue("UseDevelopmentStorage", out var development) && development.Equals("true", StringComparison.OrdinalIgnoreCase))
            return new StorageSharedKeyCredential(DevelopmentAccount, DevelopmentKey);
        if (parts.TryGetValue("AccountName", out var account) && parts.TryGetValue("AccountKey", out var key))
            return new StorageSharedKeyCredential(account, key);
        if (parts.TryGetValue("SharedAccessSignature", out var sas))
            return new AzureSasCredential(sas.TrimStart('?'));
        return null;
    }
}

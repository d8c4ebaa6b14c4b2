using ModelBuildTasks.Compression;
using ModelBuildTasks.Compression.Caching;
using ModelBuildTasks.Container;
using ModelBuildTasks.Packaging;

namespace ModelBuildTasks.Engine.Tests;

/// <summary>The two cache levels together, with an in-memory remote cache.</summary>
public class LayeredCacheTests
{
    sealed class MemoryRemote(Dictionary<string, byte[]> entries) : IRemoteCache
    {
        public string Location => "memory://cache";
        public Task<RemoteEntry?> TryGetAsync(string key, CancellationToken cancellation) =>
            Task.FromResult(entries.TryGetValue(key, out var bytes) ? new RemoteEntry(bytes, "v1", true) : null);
        public Task<RemotePutOutcome> PutAsync(string key, byte[] entry, string? replacing, CancellationToken cancellation)
        {
            if (!entries.TryAdd(key, entry)) return Task.FromResult(RemotePutOutcome.AlreadyPresent);
            return Task.FromResult(RemotePutOutcome.Stored);
        }
        public void Dispose() { }
    }

    [Fact]
    public void ARemoteHit_ThatTheLocalFolderCannotKeep_IsStillAHit_WithAWarning()
    {
        // A read-only or full local folder (here: a file where its tmp/ goes) costs the copy kept
        // locally, as it costs a fresh result's (MBT1503), never the build that the remote entry serves.
        var container = ContainerPackaging.Pack(TestModels.Plain(), new ContainerMetadata
        {
            Inputs = [new TensorDescription("input", "float", ["N", "1", "28", "28"])],
            Outputs = [new TensorDescription("logits", "float", ["N", "10"])],
        });
        var report = new CompressionReport { Model = "m.onnx", Ratio = 4, ContainerSha256 = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(container)) };
        var key = new string('a', 64);
        var folder = Directory.CreateTempSubdirectory("mbt-layered-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(folder, "tmp"), "");
            var warnings = new List<string>();
            using var cache = new LayeredCache(new CompressionCache(folder), new MemoryRemote(new() { [key] = CacheEntryFormat.Encode(container, report) }),
                remoteReadOnly: false, TimeSpan.FromSeconds(5), localMaxBytes: null) { Warn = (code, _) => warnings.Add(code) };

            var hit = cache.TryGet(key);

            Assert.NotNull(hit);
            Assert.Equal("remote-hit", hit.Value.Source);
            Assert.Equal(container, hit.Value.Container);
            Assert.Equal([ErrorCodes.CacheUnavailable], warnings);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}

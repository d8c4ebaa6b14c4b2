using ModelBuildTasks.Compression;
using ModelBuildTasks.Compression.Caching;
using ModelBuildTasks.Container;
using ModelBuildTasks.Packaging;

namespace ModelBuildTasks.Engine.Tests;

public class CacheEntryFormatTests
{
    static (byte[] Container, CompressionReport Report) Sample()
    {
        var container = ContainerPackaging.Pack(TestModels.Plain(), new ContainerMetadata
        {
            Inputs = [new TensorDescription("input", "float", ["N", "1", "28", "28"])],
            Outputs = [new TensorDescription("logits", "float", ["N", "10"])],
        });
        return (container, new CompressionReport { Model = "m.onnx", Ratio = 4, ContainerSha256 = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(container)) });
    }

    [Fact]
    public void AnEntry_RoundTrips()
    {
        var (container, report) = Sample();
        var decoded = CacheEntryFormat.TryDecode(CacheEntryFormat.Encode(container, report));
        Assert.NotNull(decoded);
        Assert.Equal(container, decoded.Value.Container);
        Assert.Equal("m.onnx", decoded.Value.Report.Model);
    }

    [Fact]
    public void EveryFlippedByteOrCut_IsRejected()
    {
        var (container, report) = Sample();
        var entry = CacheEntryFormat.Encode(container, report);
        // Flipping a byte in the JSON's whitespace or in a name could still parse, so the report part is sampled at its numbers and hash.
        var reportEnd = entry.Length - container.Length;
        for (var i = reportEnd; i < entry.Length; i += Math.Max(1, container.Length / 200))
        {
            var damaged = (byte[])entry.Clone();
            damaged[i] ^= 0x41;
            Assert.Null(CacheEntryFormat.TryDecode(damaged));
        }
        foreach (var i in new[] { 0, 8, 12, 13 })
        {
            var damaged = (byte[])entry.Clone();
            damaged[i] ^= 0x41;
            Assert.Null(CacheEntryFormat.TryDecode(damaged));
        }
        foreach (var length in new[] { 0, 10, 16, reportEnd, entry.Length - 1 })
            Assert.Null(CacheEntryFormat.TryDecode(entry.AsSpan(0, length)));
        Assert.Null(CacheEntryFormat.TryDecode(CacheEntryFormat.Encode(container, report with { ContainerSha256 = new string('0', 64) })));
    }

    [Theory]
    [InlineData("https://acct.blob.core.windows.net/cache?sv=2024-01-01&sp=rw&sig=SECRET%2Bx%3D", "https://acct.blob.core.windows.net/cache")]
    [InlineData("http://user:pw@127.0.0.1:10000/devstoreaccount1/c?sig=SECRET", "http://127.0.0.1:10000/devstoreaccount1/c")]
    [InlineData("not a url ?sig=SECRET", "not a url ")]
    public void UrlsArePrintedWithoutCredentials(string url, string printed)
    {
        Assert.Equal(printed, RemoteCacheUrl.Redact(url));
        Assert.DoesNotContain("SECRET", RemoteCacheUrl.Scrub($"failed: {url}; AccountKey=SECRET;"));
    }
}

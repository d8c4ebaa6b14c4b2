using Azure.Storage.Blobs;
using Azure.Storage.Sas;

namespace ModelBuildTasks.EndToEnd.Tests;

/// <summary>
/// <c>ModelCompressionCacheUrl</c> in real builds: two apps with their own local cache folders (two
/// machines) share one Azurite container; the second build gets the model without running the engine.
/// </summary>
[Collection(nameof(PackedPackages))]
public sealed class RemoteCacheBuildTests(PackedPackages packages, AzuriteServer server) : IClassFixture<AzuriteServer>
{
    [Fact]
    public void ASecondMachine_GetsTheModelFromTheRemoteCache_AndTheSasIsNeverLogged()
    {
        var container = new BlobContainerClient(server.ConnectionString, "e2e" + Guid.NewGuid().ToString("N"));
        container.Create();
        var sas = container.GenerateSasUri(BlobContainerSasPermissions.Read | BlobContainerSasPermissions.Create | BlobContainerSasPermissions.Write, DateTimeOffset.UtcNow.AddHours(1));
        var signature = System.Web.HttpUtility.ParseQueryString(sas.Query)["sig"]!;
        using var cacheA = new TestPaths.TempFolder();
        using var cacheB = new TestPaths.TempFolder();
        // The URL with its SAS goes in a property, as a CI secret would ('&' escaped for the XML).
        var url = sas.ToString().Replace("&", "&amp;");
        string Properties(string cache) => $"<ModelCompressionCacheDir>{cache}</ModelCompressionCacheDir><ModelCompressionCacheUrl>{url}</ModelCompressionCacheUrl>";
        using var a = new ConsumerProject(packages, "Methods=\"IQ\" Bits=\"6\"", Properties(cacheA.Path));
        using var b = new ConsumerProject(packages, "Methods=\"IQ\" Bits=\"6\"", Properties(cacheB.Path));

        var first = a.Build();
        Assert.True(first.ExitCode == 0, first.Output);
        Assert.Contains("cache: uploaded", first.Output);
        Assert.Contains("baseline", first.Output);
        var second = b.Build();
        Assert.True(second.ExitCode == 0, second.Output);
        Assert.Contains("cache: remote-hit", second.Output);
        Assert.DoesNotContain("baseline", second.Output); // the engine's progress: it did not compress
        Assert.Equal(File.ReadAllBytes(Path.Combine(a.Outputs, "fashion_vgg/fashion_vgg.cmodel")), File.ReadAllBytes(Path.Combine(b.Outputs, "fashion_vgg/fashion_vgg.cmodel")));
        foreach (var output in new[] { first.Output, second.Output })
        {
            Assert.DoesNotContain(signature, output);
            Assert.DoesNotContain(Uri.EscapeDataString(signature), output);
            Assert.DoesNotContain("sig=", output);
        }
        var run = b.RunApp();
        Assert.True(run.ExitCode == 0, run.Output);
    }
}

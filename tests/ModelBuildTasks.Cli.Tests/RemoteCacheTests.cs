using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Sas;
using ModelBuildTasks.Compression.Caching;

namespace ModelBuildTasks.Cli.Tests;

/// <summary>
/// The shared remote cache against a real Azure Blob Storage server (Azurite on a loopback port,
/// started for this class and stopped with it), driven through the real CLI: each "machine" is a
/// separate process with its own local cache folder.
/// </summary>
public sealed class RemoteCacheTests(AzuriteServer server) : IClassFixture<AzuriteServer>, IDisposable
{
    static readonly string Validation = TestPaths.FashionValidation;
    readonly TestPaths.TempFolder temp = new();
    readonly string container = "c" + Guid.NewGuid().ToString("N");

    string Model
    {
        get
        {
            var path = temp.File("m.onnx");
            if (!File.Exists(path)) ModelBuildTasks.Graph.ModelFile.Save(TestModels.Plain(), path);
            return path;
        }
    }

    Dictionary<string, string?> Environment => new() { ["AZURE_STORAGE_CONNECTION_STRING"] = server.ConnectionString, ["MBT_CACHE_URL"] = null, ["MBT_CACHE_READ_ONLY"] = null };

    // 1,000 images measure the default 1-point budget (MBT1402 warns below about 400): the runs here print no warning of their own.
    string[] Compress(string machine, string? url = null, params string[] extra) =>
        ["compress", Model, "--data", Validation, "--methods", "iq", "--bits", "7", "--max-validation-images", "1000", "-o", temp.File($"{machine}.cmodel"),
         "--cache-dir", temp.File($"{machine}-cache"), "--cache-url", url ?? server.ContainerUrl(container), "--json", .. extra];

    CliRunner.Result Machine(string machine, params string[] extra) => CliRunner.RunWith(Environment, Compress(machine, null, extra));

    BlobContainerClient Blobs => new(server.ConnectionString, container);

    [Fact]
    public void ASecondMachine_GetsTheFirstsResult_WithoutRunningTheEngine_AndKeepsItLocally()
    {
        var a = Machine("a");
        Assert.True(a.ExitCode == 0, a.Stderr);
        Assert.Equal("miss", a.Json.GetProperty("cache").GetString());
        Assert.Contains("cache: uploaded", a.Stderr);
        Assert.Contains("baseline", a.Stderr); // the engine's progress

        var b = Machine("b");
        Assert.True(b.ExitCode == 0, b.Stderr);
        Assert.Equal("remote-hit", b.Json.GetProperty("cache").GetString());
        Assert.Contains("cache: remote-hit", b.Stderr);
        Assert.DoesNotContain("baseline", b.Stderr); // the engine did not run
        Assert.DoesNotContain("warning", b.Stderr);
        Assert.Equal(File.ReadAllBytes(temp.File("a.cmodel")), File.ReadAllBytes(temp.File("b.cmodel")));
        Assert.Equal(a.Json.GetProperty("final_accuracy").GetDouble(), b.Json.GetProperty("final_accuracy").GetDouble());

        // Written back: machine b now hits its own folder, even with the server out of reach.
        var offline = CliRunner.RunWith(Environment, Compress("b", $"http://127.0.0.1:{ClosedPort()}/{AzuriteServer.Account}/{container}"));
        Assert.True(offline.ExitCode == 0, offline.Stderr);
        Assert.Equal("hit", offline.Json.GetProperty("cache").GetString());

        Assert.Single(Blobs.GetBlobs());
    }

    [Fact]
    public void ReadOnly_ReadsButNeverWrites_AndReadOnlyCredentialsAreOnlyAWarning()
    {
        var pr = Machine("pr", "--cache-read-only");
        Assert.True(pr.ExitCode == 0, pr.Stderr);
        Assert.Equal("miss", pr.Json.GetProperty("cache").GetString());
        Assert.Contains("cache: read-only, not uploading", pr.Stderr);
        Assert.DoesNotContain("warning", pr.Stderr);
        Assert.False(Blobs.Exists().Value && Blobs.GetBlobs().Any());

        // A SAS that only reads (as a fork's pull request would get): the upload is refused, the build succeeds, the SAS is never printed.
        Blobs.CreateIfNotExists();
        var sas = Blobs.GenerateSasUri(BlobContainerSasPermissions.Read | BlobContainerSasPermissions.List, DateTimeOffset.UtcNow.AddHours(1));
        var signature = System.Web.HttpUtility.ParseQueryString(sas.Query)["sig"]!;
        var denied = CliRunner.RunWith(new Dictionary<string, string?> { ["AZURE_STORAGE_CONNECTION_STRING"] = null, ["MBT_CACHE_URL"] = null },
            Compress("fork", sas.ToString()));
        Assert.True(denied.ExitCode == 0, denied.Stderr);
        Assert.Contains("warning MBT1501", denied.Stderr);
        Assert.Contains("upload failed", denied.Stderr);
        Assert.Contains("access denied", denied.Stderr);
        Assert.DoesNotContain(signature, denied.Stderr + denied.Stdout);
        Assert.DoesNotContain(Uri.EscapeDataString(signature), denied.Stderr + denied.Stdout);
        Assert.DoesNotContain("sig=", denied.Stderr + denied.Stdout);
        Assert.Empty(Blobs.GetBlobs());

        // Once a trusted build has uploaded, the read-only SAS serves it.
        Assert.Equal(0, Machine("main").ExitCode);
        var hit = CliRunner.RunWith(new Dictionary<string, string?> { ["AZURE_STORAGE_CONNECTION_STRING"] = null, ["MBT_CACHE_URL"] = null },
            Compress("fork2", sas.ToString(), "--cache-read-only"));
        Assert.True(hit.ExitCode == 0, hit.Stderr);
        Assert.Equal("remote-hit", hit.Json.GetProperty("cache").GetString());
        Assert.DoesNotContain("sig=", hit.Stderr + hit.Stdout);
    }

    [Fact]
    public async Task ConcurrentWriters_OfOneKey_NeitherFailNorCorrupt()
    {
        // Three machines compress the same model at once: every build succeeds and one whole entry is stored.
        var runs = await Task.WhenAll(new[] { "x", "y", "z" }.Select(m => Task.Run(() => Machine(m))));
        Assert.All(runs, r => Assert.True(r.ExitCode == 0 && !r.Stderr.Contains("warning"), r.Stderr));
        Assert.True(runs.Count(r => r.Stderr.Contains("cache: uploaded")) <= 1, string.Join("\n---\n", runs.Select(r => r.Stderr)));
        Assert.Single(Blobs.GetBlobs());
        var late = Machine("late");
        Assert.Equal("remote-hit", late.Json.GetProperty("cache").GetString());
        Assert.Equal(File.ReadAllBytes(temp.File("x.cmodel")), File.ReadAllBytes(temp.File("late.cmodel")));

        // The backend itself, eight uploads of one new key racing: exactly one stores it, none fails.
        using var remote = RemoteCacheUrl.Open(server.ContainerUrl(container), TimeSpan.FromSeconds(30), name => name == "AZURE_STORAGE_CONNECTION_STRING" ? server.ConnectionString : null);
        var entry = (await remote.TryGetAsync(Blobs.GetBlobs().Single().Name["mbt/v1/".Length..], CancellationToken.None))!;
        var key = new string('e', 64);
        var outcomes = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => remote.PutAsync(key, entry.Bytes, null, CancellationToken.None))));
        Assert.Equal(1, outcomes.Count(o => o == RemotePutOutcome.Stored));
        var stored = (await remote.TryGetAsync(key, CancellationToken.None))!;
        Assert.True(stored.Intact);
        Assert.Equal(entry.Bytes, stored.Bytes);
    }

    [Theory]
    [InlineData("garbage")]      // bytes that are no entry, without checksums
    [InlineData("consistent")]   // a damaged container re-uploaded with matching MD5 and SHA-256 (a faulty writer)
    public void ACorruptedBlob_IsIgnoredAndReplaced(string damage)
    {
        Assert.Equal(0, Machine("a").ExitCode);
        var blob = Blobs.GetBlobClient(Blobs.GetBlobs().Single().Name);
        var bytes = blob.DownloadContent().Value.Content.ToArray();
        if (damage == "garbage")
        {
            blob.Upload(BinaryData.FromBytes(bytes[..(bytes.Length / 2)]), overwrite: true);
        }
        else
        {
            bytes[^10] ^= 0x5A;
            blob.Upload(BinaryData.FromBytes(bytes), new BlobUploadOptions
            {
                HttpHeaders = new BlobHttpHeaders { ContentHash = System.Security.Cryptography.MD5.HashData(bytes) },
                Metadata = new Dictionary<string, string> { ["sha256"] = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes)) },
            });
        }

        var b = Machine("b");
        Assert.True(b.ExitCode == 0, b.Stderr);
        Assert.Contains("warning MBT1502", b.Stderr);
        Assert.Equal("miss", b.Json.GetProperty("cache").GetString());
        Assert.Contains("cache: uploaded", b.Stderr); // replaced
        ModelBuildTasks.Container.ModelContainer.Read(File.ReadAllBytes(temp.File("b.cmodel")));

        var c = Machine("c");
        Assert.True(c.ExitCode == 0, c.Stderr);
        Assert.Equal("remote-hit", c.Json.GetProperty("cache").GetString());
        Assert.DoesNotContain("warning", c.Stderr);
        Assert.Equal(File.ReadAllBytes(temp.File("a.cmodel")), File.ReadAllBytes(temp.File("c.cmodel")));
    }

    [Fact]
    public void TheServerStoppedMidBuild_IsAWarning_AndTheBuildSucceeds()
    {
        using var own = new AzuriteServer();
        var environment = new Dictionary<string, string?> { ["AZURE_STORAGE_CONNECTION_STRING"] = own.ConnectionString, ["MBT_CACHE_URL"] = null };
        // The full VGG sample takes seconds to compress: long enough to stop the server while the engine runs.
        string[] args = ["compress", Path.Combine(TestPaths.RepoRoot, "samples/models/fashion_vgg.onnx"), "--data", Validation, "--methods", "iq", "--bits", "7",
            "-o", temp.File("vgg.cmodel"), "--cache-dir", temp.File("cache"), "--cache-url", own.ContainerUrl(container), "--cache-timeout", "5", "--json"];
        var run = CliRunner.Start(environment, args);
        Assert.True(run.WaitForStderr("cache: miss", TimeSpan.FromMinutes(2)), run.StderrSoFar);
        own.Stop();
        var result = run.Finish();
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Contains("warning MBT1501", result.Stderr);
        Assert.Contains("upload failed", result.Stderr);
        Assert.Equal("miss", result.Json.GetProperty("cache").GetString());
        ModelBuildTasks.Container.ModelContainer.Read(File.ReadAllBytes(temp.File("vgg.cmodel")));
        Assert.Single(LocalCacheEntries.List(temp.File("cache"))); // the local level still got it
    }

    [Fact]
    public void AServerThatNeverAnswers_TimesOut_WithAWarning()
    {
        // Accepts connections and never answers: the slow-network case.
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var accepted = new List<TcpClient>();
        var accepting = Task.Run(async () => { try { while (true) accepted.Add(await listener.AcceptTcpClientAsync()); } catch (Exception) { } });
        try
        {
            var port = ((IPEndPoint)listener.LocalEndpoint).Port;
            var watch = Stopwatch.StartNew();
            var result = CliRunner.RunWith(Environment, Compress("slow", $"http://127.0.0.1:{port}/{AzuriteServer.Account}/{container}", "--cache-timeout", "2"));
            Assert.True(result.ExitCode == 0, result.Stderr);
            Assert.Contains("warning MBT1501", result.Stderr);
            Assert.Contains("no answer within 2 s", result.Stderr);
            Assert.Equal("miss", result.Json.GetProperty("cache").GetString());
            // One timeout, then the cache is left alone (no second wait for the upload).
            Assert.DoesNotContain("upload failed", result.Stderr);
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(90), $"{watch.Elapsed}");
        }
        finally
        {
            listener.Stop();
            foreach (var client in accepted) client.Dispose();
        }
    }

    [Fact]
    public void AnUnreachableServer_IsAWarning()
    {
        var result = CliRunner.RunWith(Environment, Compress("down", $"http://127.0.0.1:{ClosedPort()}/{AzuriteServer.Account}/{container}"));
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Contains("warning MBT1501", result.Stderr);
        Assert.Contains("Connection refused", result.Stderr);
        Assert.Equal("miss", result.Json.GetProperty("cache").GetString());
    }

    [Theory]
    [InlineData("ftp://example/c")]
    [InlineData("https://account.blob.core.windows.net/")]
    public void AMalformedCacheUrl_IsASettingError(string url)
    {
        var result = CliRunner.RunWith(Environment, Compress("bad", url));
        CliRunner.AssertCleanJsonError(result, 2, ErrorCodes.InvalidSetting); // asked for --json: the error comes as JSON on stdout too
        Assert.Contains("blob container", result.Stderr);
    }

    static int ClosedPort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    public void Dispose() => temp.Dispose();
}

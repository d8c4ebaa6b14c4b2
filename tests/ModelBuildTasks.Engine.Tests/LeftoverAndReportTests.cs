using ModelBuildTasks.Compression;

namespace ModelBuildTasks.Engine.Tests;

/// <summary>Defect 10 of issue #12: orphans of killed writes are swept, and report.md is inert whatever the model is called.</summary>
public class LeftoverAndReportTests
{
    [Fact]
    public void AnOldTempFileBesideAnOutput_IsSweptByTheNextWrite_AndAFreshOneIsKept()
    {
        using var temp = new TestPaths.TempFolder();
        var stale = temp.File(".m.cmodel.0123.tmp");
        var fresh = temp.File(".m.cmodel.4567.tmp");
        var other = temp.File("unrelated.tmp");
        foreach (var f in new[] { stale, fresh, other }) File.WriteAllBytes(f, new byte[1024]);
        File.SetLastWriteTimeUtc(stale, DateTime.UtcNow.AddHours(-2));
        File.SetLastWriteTimeUtc(other, DateTime.UtcNow.AddHours(-2));
        AtomicFile.WriteAllText(temp.File("m.cmodel"), "x");
        Assert.False(File.Exists(stale));
        Assert.True(File.Exists(fresh)); // may belong to a write in progress
        Assert.True(File.Exists(other)); // not ours
    }

    [Fact]
    public void AnOrphanedCacheWorkFolder_IsSweptByTheNextPut()
    {
        using var temp = new TestPaths.TempFolder();
        var orphan = Directory.CreateDirectory(temp.File("cache/tmp/0123abcd"));
        File.WriteAllBytes(Path.Combine(orphan.FullName, "model.cmodel"), new byte[1024]);
        Directory.SetLastWriteTimeUtc(orphan.FullName, DateTime.UtcNow.AddHours(-2));
        var report = CompressionReport.Parse("{}") ?? throw new InvalidOperationException("an empty report should parse");
        new CompressionCache(temp.File("cache")).Put(new string('a', 64), [1, 2, 3], report);
        Assert.False(Directory.Exists(orphan.FullName));
    }

    [Fact]
    public void MarkdownText_NeutralisesMarkupAndLineBreaks()
    {
        var escaped = MarkdownText.Escape("[click](http://x)\n# <img src=x onerror=alert(1)> | row |");
        Assert.DoesNotContain("\n", escaped);
        Assert.DoesNotContain("<img", escaped);
        Assert.DoesNotContain("](", escaped);
        Assert.DoesNotContain(" | ", escaped.Replace("\\|", ""));
        Assert.Contains("\\[click\\]", escaped);
    }
}

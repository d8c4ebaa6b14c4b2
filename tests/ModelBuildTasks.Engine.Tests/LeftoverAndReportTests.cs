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

    [Fact]
    public void ReportMarkdown_EscapesTheChosenSettingsTheSettingsAndTheCandidates()
    {
        // Layer names (from the model) and class names (--labels) reached the Chosen and Settings lines as they were.
        var report = CompressionReport.Parse("{}")! with
        {
            Chosen = new SortedDictionary<string, string>(StringComparer.Ordinal) { ["layer_bits"] = "conv<script>alert(1)</script>:3,w|[l](javascript:x):4" },
            Settings = "search=margin;labels=T`<img src=x onerror=alert(1)>`,b",
            Candidates = [new CandidateResult("iq: bits=4 <b>x</b>", 10, 0.5)],
        };
        var markdown = report.ToMarkdown();
        Assert.DoesNotContain("<script", markdown);
        Assert.DoesNotContain("<img", markdown);
        Assert.DoesNotContain("<b>", markdown);
        Assert.DoesNotContain("](javascript", markdown);
        Assert.DoesNotContain("`", markdown.Replace("\\`", ""));
    }

    [Fact]
    public void ABoundJustBelowItsTarget_NeverPrintsAsTheTarget_AndOneAtOrAboveItNeverBelow()
    {
        // 0.9235895 against 0.92359: both printed 92.36% beside "not met" (and 0.92359 in the JSON).
        Assert.Equal((0.923589, 0.92359), TargetFigures.Shown(0.9235895, 0.92359, 6));
        Assert.Equal((0.9235, 0.9236), TargetFigures.Shown(0.9235895, 0.92359, 4));
        Assert.Equal((0.9236, 0.9236), TargetFigures.Shown(0.92359, 0.9235895, 4)); // met: equal figures, as rounded
        Assert.Equal((0.91, 0.92), TargetFigures.Shown(0.91, 0.92, 4)); // 0.92 is not rounded up past itself
        var random = new Random(3);
        for (var i = 0; i < 10_000; i++)
        {
            var (bound, target) = (random.NextDouble(), random.NextDouble());
            if (i % 2 == 0) bound = target + (random.NextDouble() - 0.5) * 1e-5;
            var (b, t) = TargetFigures.Shown(bound, target, 4);
            Assert.True(bound >= target ? b >= t : b < t, $"{bound} against {target} shown as {b} against {t}");
        }
    }
}

using System.Diagnostics;
using System.Text.RegularExpressions;

namespace ModelBuildTasks.Cli.Tests;

/// <summary>
/// Progress: plain <c>info:</c> lines when stderr is not a terminal (what the MSBuild task shows),
/// a moving bar on a terminal, and <c>--verbosity</c>.
/// </summary>
public class ProgressTests
{
    static readonly string Vgg = Path.Combine(TestPaths.RepoRoot, "samples/models/fashion_vgg.onnx");

    static string[] Compress(TestPaths.TempFolder temp, params string[] extra) =>
        ["compress", Vgg, "--data", TestPaths.FashionTest, "--max-validation-images", "300", "--methods", "iq", "--no-cache", "-o", temp.File("vgg.cmodel"), .. extra];

    [Fact]
    public void Compress_InALog_SaysStageCandidateLastAccuracyAndTimeLeft()
    {
        using var temp = new TestPaths.TempFolder();
        var result = CliRunner.Run(Compress(temp));
        Assert.True(result.ExitCode == 0, result.Stderr);
        var lines = result.Stderr.ReplaceLineEndings("\n").Split('\n');
        Assert.Contains("info: stage baseline", lines);
        Assert.Contains(lines, l => Regex.IsMatch(l, @"^info: stage IQ, candidate 1/~\d+ \(bits=7\)$"));
        // From the second candidate on: the last candidate's accuracy and an estimate of the time left.
        var later = lines.Where(l => Regex.IsMatch(l, @"^info: stage IQ, candidate [2-9]/~\d+ \(bits=\d\), last accuracy \d+\.\d\d%, ~\d+ (s|min) left$")).ToList();
        Assert.True(later.Count >= 1, result.Stderr);
        Assert.Contains("info: stage latency", lines);
        Assert.DoesNotContain(lines, l => l.Contains('\u001b')); // no terminal escapes in a log
    }

    [Fact]
    public void Quiet_ShowsNoProgress_ButStillTheResult()
    {
        using var temp = new TestPaths.TempFolder();
        var result = CliRunner.Run(Compress(temp, "--verbosity", "quiet", "--json"));
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.DoesNotContain("info:", result.Stderr);
        Assert.True(result.Json.GetProperty("target_met").GetBoolean());
    }

    [Fact]
    public void Detailed_AddsVerboseLines_NormalOnlyTheDeciles()
    {
        string[] args = ["evaluate", Vgg, "--data", TestPaths.FashionTest, "--limit", "1280", "--batch-size", "32", "--latency-samples", "1"];
        var normal = CliRunner.Run(args);
        var detailed = CliRunner.Run([.. args, "--verbosity", "detailed"]);
        Assert.Equal(0, normal.ExitCode);
        Assert.Equal(0, detailed.ExitCode);
        var normalLines = normal.Stderr.Split('\n').Count(l => l.StartsWith("info: stage evaluate", StringComparison.Ordinal));
        Assert.InRange(normalLines, 2, 12); // about one per 10%, not one per batch (40)
        Assert.DoesNotContain("verbose:", normal.Stderr);
        Assert.True(detailed.Stderr.Split('\n').Count(l => l.StartsWith("verbose: stage evaluate", StringComparison.Ordinal)) >= 20, detailed.Stderr);
    }

    [Fact]
    public void OnATerminal_TheBarMovesByCandidate_AndNoColorDropsTheColors()
    {
        // A real pseudo-terminal (util-linux script), as a user's shell gives: not a redirected stream.
        Assert.True(File.Exists("/usr/bin/script"), "this test needs /usr/bin/script (Debian: bsdutils) for a pseudo-terminal");
        using var temp = new TestPaths.TempFolder();
        string Run(int columns, params string[] extra)
        {
            var cli = Path.Combine(AppContext.BaseDirectory, "dotnet-compress-model.dll");
            var command = $"stty cols {columns}; " + string.Join(" ", new[] { "dotnet", cli }.Concat(Compress(temp, extra)).Select(a => "'" + a.Replace("'", "'\\''") + "'")) + " >/dev/null";
            var start = new ProcessStartInfo("/usr/bin/script") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in new[] { "-qec", command, temp.File("tty.log") }) start.ArgumentList.Add(a);
            start.Environment["CI"] = null;
            start.Environment["NO_COLOR"] = null;
            start.Environment["TERM"] = "xterm-256color";
            using var process = Process.Start(start)!;
            process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            Assert.Equal(0, process.ExitCode);
            return File.ReadAllText(temp.File("tty.log"));
        }

        var tty = Run(120);
        var frames = Frames(tty);
        // The live bar redraws in place: its percentage grows with the candidates and its text names them.
        Assert.Contains(frames, f => Regex.IsMatch(f, @"\b0% .*compress: IQ \| 1/~\d+ \(bits=7\)"));
        Assert.Contains(frames, f => Regex.IsMatch(f, @"\b[1-9]\d% .*compress: IQ \| [2-9]/~\d+ \(bits=\d\) \| last \d+\.\d\d% \| ~\d+ (s|min) left"));
        Assert.DoesNotContain(frames, f => f.StartsWith("info:", StringComparison.Ordinal));
        Assert.Matches(@"\x1b\[38;5;\d+m", tty); // colors by default

        var plain = Run(120, "--no-color");
        Assert.DoesNotMatch(@"\x1b\[(38|48);", plain);
        Assert.Contains("compress: IQ | 1/~", Regex.Replace(plain, @"\x1b\[[0-9;?]*[A-Za-z]", ""));

        // A narrow terminal: the line gives up the candidate's knobs and the last accuracy before it would wrap
        // (a wrapped line broke the redraw and split the elapsed time over two lines).
        var narrow = Frames(Run(60)).Where(f => Regex.IsMatch(f, @"\d\d:\d\d:\d\d compress:")).ToList();
        Assert.Contains(narrow, f => Regex.IsMatch(f.TrimEnd(), @"\b[1-9]\d% \d\d:\d\d:\d\d compress: IQ \| [2-9]/~\d+ \| ~\d+ (s|min) left$"));
        Assert.All(narrow, f => Assert.True(f.TrimEnd().Length < 60, f));
    }

    static string[] Frames(string tty) => Regex.Replace(tty, @"\x1b\[[0-9;?]*[A-Za-z]", "").Split('\r', '\n');
}

using System.Globalization;
using ModelBuildTasks.Compression;

/// <summary>
/// Margin search against the brute-force grid on full Fashion-MNIST: validation 5,000 and test
/// 5,000 images of the 10k test set (split by seed), the models trained on the 60k training set.
/// Prints one Markdown row per run and, when both ran, the comparison the paper makes.
/// </summary>
static class SearchBench
{
    public static void Run(string dataDir, string spec, string[] models)
    {
        var parts = spec.Split(':', 4);
        var resolution = double.Parse(parts[1], CultureInfo.InvariantCulture);
        using var data = new BenchData(dataDir);
        var (validation, test) = (data.Validation, data.Test);
        var reports = Environment.GetEnvironmentVariable("BENCH_REPORTS");

        Console.WriteLine("| model | search | fine-tuning | evaluations | seconds | size ratio | val acc, bound (target) | test fp32 → compressed | test drop | latency ratio | chosen |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|");
        var comparisons = new List<string>();
        var speeds = new List<(string Name, byte[] Fp32, byte[] Compressed)>();
        foreach (var model in models)
        {
            var runs = new Dictionary<SearchKind, CompressionReport>();
            var kinds = parts[0] == "post" ? new[] { SearchKind.Margin, SearchKind.Grid } : [SearchKind.Margin];
            foreach (var kind in kinds)
            {
                var settings = new CompressionSettings { Search = kind, Resolution = resolution };
                if (Environment.GetEnvironmentVariable("BENCH_CONFIDENCE") is { Length: > 0 } confidence)
                    settings = settings with { Confidence = double.Parse(confidence, CultureInfo.InvariantCulture) };
                if (parts[0] == "tuned")
                    settings = parts[2].EndsWith('e')
                        ? settings with { FineTuneEpochs = int.Parse(parts[2][..^1], CultureInfo.InvariantCulture), TrainData = parts[3] }
                        : settings with { FineTuneSeconds = double.Parse(parts[2], CultureInfo.InvariantCulture), TrainData = parts[3] };
                var (container, r) = Compressor.Run(model, validation, test, settings);
                runs[kind] = r;
                speeds.Add(($"{Path.GetFileName(model)} ({r.Search}, {Cells.Times(r.Ratio)})",
                    ModelBuildTasks.Graph.ModelFile.LoadOnnxBytes(model), ModelBuildTasks.Packaging.ContainerPackaging.ToOnnx(container)));
                if (reports is not null)
                {
                    Directory.CreateDirectory(reports);
                    var stem = Path.Combine(reports, $"{Path.GetFileNameWithoutExtension(model)}-{kind.ToString().ToLowerInvariant()}-{parts[0]}");
                    File.WriteAllText(stem + ".json", r.ToJson());
                    File.WriteAllBytes(stem + ".cmodel", container);
                    File.WriteAllText(stem + ".html", ModelBuildTasks.Reporting.HtmlReport.Render(r));
                }
                Console.WriteLine(string.Join(" | ", [
                    $"| {Path.GetFileName(model)}", r.Search, r.FineTuning is { } ft ? $"{(parts[2].EndsWith('e') ? parts[2][..^1] + " epoch" : parts[2] + " s")}/step, {ft.Runs} runs, {ft.Threads} threads" : "none",
                    r.Evaluations.ToString(CultureInfo.InvariantCulture), r.Seconds.ToString("0", CultureInfo.InvariantCulture),
                    Cells.Times(r.Ratio), $"{Cells.Percent(r.FinalAccuracy)}, {Cells.Percent(r.FinalAccuracyBound)} at {r.Confidence:0.##} ({Cells.Percent(r.TargetAccuracy)})",
                    $"{Cells.Percent(r.BaselineTestAccuracy)} → {Cells.Percent(r.TestAccuracy)}", Cells.TestDrop(r), Cells.Speedup(r),
                    string.Join(" ", r.Chosen.Where(kv => kv.Key is not ("methods" or "calibration")).Select(kv => $"{kv.Key}={kv.Value}")) + " |"]));
            }
            if (runs.TryGetValue(SearchKind.Margin, out var m) && runs.TryGetValue(SearchKind.Grid, out var g))
                comparisons.Add($"- {Path.GetFileName(model)}: margin size / grid size = {(double)m.CompressedBytes / g.CompressedBytes:0.000}, " +
                    $"evaluations {g.Evaluations}/{m.Evaluations} = {(double)g.Evaluations / m.Evaluations:0.0}x fewer, time {g.Seconds:0}/{m.Seconds:0} s = {g.Seconds / m.Seconds:0.0}x less");
        }
        if (comparisons.Count > 0) Console.WriteLine("\n" + string.Join("\n", comparisons));

        // Speed of each result against its fp32 original, measured after the searches so that nothing else runs.
        var images = ModelBuildTasks.Data.DatasetLoader.Load(test);
        Console.WriteLine($"\n| model (result) | {Speed.Header} |");
        Console.WriteLine(Speed.Rule);
        foreach (var (name, fp32, compressed) in speeds)
            Console.WriteLine($"| {name} | {Speed.Row(Speed.Compare(fp32, compressed, images))} |");
    }
}

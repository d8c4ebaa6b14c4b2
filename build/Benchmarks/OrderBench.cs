using System.Globalization;
using ModelBuildTasks.Compression;

/// <summary>
/// Does the order matter? The same knobs (8 bits, 30% of channels, 70% of weights, 16 levels) in
/// four orders of iq, ns, dc (the paper's, IQ in the middle, IQ last, DC first), post-training and with one epoch of fine-tuning per step; then the
/// margin search in each order, which decides how the accuracy budget is spent.
/// </summary>
static class OrderBench
{
    static readonly string[][] Orders = [["iq", "ns", "dc"], ["ns", "iq", "dc"], ["ns", "dc", "iq"], ["dc", "ns", "iq"]];

    public static void Run(string dataDir, string train, string[] models)
    {
        using var data = new BenchData(dataDir);
        var (validation, test) = (data.Validation, data.Test);

        Console.WriteLine("| model | order | knobs | fine-tuning | size ratio | test drop (points) | evaluations | seconds |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        foreach (var model in models)
        foreach (var (label, settings) in Configurations(train))
        foreach (var methods in Orders)
        {
            var (_, r) = Compressor.Run(model, validation, test, settings with { Methods = methods });
            var knobs = settings.Search == SearchKind.Fixed ? "bits 8, ns 0.3, dc 0.7, 16 levels"
                : string.Join(" ", r.Chosen.Where(kv => kv.Key is "bits" or "ns_ratio" or "dc_ratio" or "shared_levels").Select(kv => $"{kv.Key}={kv.Value}"));
            Console.WriteLine($"| {Path.GetFileName(model)} | {string.Join("→", methods)} | {label}: {knobs} | {(settings.FineTunes ? "1 epoch/step" : "none")} | " +
                $"{Cells.Times(r.Ratio)} | {Cells.TestDrop(r)} | {r.Evaluations} | {r.Seconds.ToString("0", CultureInfo.InvariantCulture)} |");
        }
    }

    static IEnumerable<(string, CompressionSettings)> Configurations(string train)
    {
        var fixedKnobs = new CompressionSettings { Search = SearchKind.Fixed, Bits = 8, NsRatio = 0.3, DcRatio = 0.7, SharedLevels = 16, TargetAccuracy = 0 };
        yield return ("fixed", fixedKnobs);
        yield return ("fixed", fixedKnobs with { FineTuneEpochs = 1, TrainData = train });
        yield return ("margin search", new CompressionSettings());
    }
}

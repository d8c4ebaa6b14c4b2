using System.Globalization;
using ModelBuildTasks.Compression;
using ModelBuildTasks.Data;
using ModelBuildTasks.Evaluation;
using ModelBuildTasks.Graph;
using ModelBuildTasks.Packaging;

// Usage: mbt-bench DATA_DIR MODEL...            the IQ table (issue 4)
//        mbt-bench --methods DATA_DIR TRAIN MODEL...  IQ, NS, DC and IQ+NS+DC at fixed ratios, post-training and fine-tuned on TRAIN
//        mbt-bench --orders DATA_DIR TRAIN MODEL...   the same ratios in four orders of iq, ns, dc: fixed (post-training and fine-tuned) and searched
//        mbt-bench --speed DATA_DIR MODEL CONTAINER   fp32 against compressed at batch 1 (1 and 2 threads) and batch 64
//        mbt-bench --search DATA_DIR SPEC MODEL...    margin search vs grid; SPEC is one of
//              post:RESOLUTION                       both searches post-training at that ratio resolution
//              margin:RESOLUTION                     the margin search only, post-training
//              tuned:RESOLUTION:BUDGET:TRAIN         the margin search with BUDGET (seconds, or epochs as "1e") of fine-tuning per step on TRAIN
// DATA_DIR holds the full Fashion-MNIST, e.g. /usr/share/datasets/fashion-mnist.
// The 10k test set is split by seed into validation (5,000: the accuracy target is checked there) and
// test (5,000: held out, reported). The models were trained on the 60k training set only.
if (args.Length < 2 || args[0] is "-h" or "--help")
{
    Console.Error.WriteLine("usage: mbt-bench [--methods|--orders|--speed|--search] DATA_DIR ... (see the top of build/Benchmarks/Program.cs)");
    return 2;
}
try
{
    if (args[0] == "--orders")
    {
        OrderBench.Run(args[1], args[2], args[3..]);
        return 0;
    }
    if (args[0] == "--speed")
    {
        // The fp32 model against a container compressed from it, on the held-out test images.
        using var speedData = new BenchData(args[1]);
        var figures = Speed.Compare(ModelFile.LoadOnnxBytes(args[2]), ContainerPackaging.ToOnnx(File.ReadAllBytes(args[3])), DatasetLoader.Load(speedData.Test));
        Console.WriteLine($"| model (result) | {Speed.Header} |\n{Speed.Rule}\n| {Path.GetFileName(args[3])} | {Speed.Row(figures)} |");
        return 0;
    }
    if (args[0] == "--search")
    {
        SearchBench.Run(args[1], args[2], args[3..]);
        return 0;
    }
    var methodsMode = args[0] == "--methods";
    if (methodsMode) args = args[1..];
    var dataDir = args[0];
    var trainData = methodsMode ? args[1] : null;
    if (methodsMode) args = [args[0], .. args[2..]];
    using var data = new BenchData(dataDir);
    var (validation, test) = (data.Validation, data.Test);
    var testData = DatasetLoader.Load(test);

    if (methodsMode)
    {
        MethodsTable(args[1..], validation, test, trainData!);
        return 0;
    }
    Console.WriteLine("| model | params | fp32 bytes | container bytes | ratio | test acc fp32 | test acc compressed | drop (points) | latency fp32 | latency compressed | speed-up | cold compression |");
    Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|---|");
    foreach (var modelPath in args[1..])
    {
        var (container, result) = Compressor.Run(modelPath, validation, test, new CompressionSettings { Methods = ["iq"], Search = SearchKind.Fixed });
        var original = ModelFile.LoadOnnxBytes(modelPath);
        var compressed = ContainerPackaging.ToOnnx(container);
        var speed = Speed.Compare(original, compressed, testData)[1]; // batch 1, 2 threads
        var (fp32Ms, int8Ms) = (speed.Fp32Ms, speed.CompressedMs);
        var parameters = ModelFile.Load(modelPath).Graph.ParameterCount;
        Console.WriteLine(string.Join(" | ", [
            $"| {Path.GetFileName(modelPath)}", Cells.Count(parameters), Cells.Count(result.OriginalBytes), Cells.Count(result.CompressedBytes),
            Cells.Times(result.Ratio), Cells.Percent(result.BaselineTestAccuracy), Cells.Percent(result.TestAccuracy), Cells.TestDrop(result),
            fp32Ms.ToString("0.000", CultureInfo.InvariantCulture) + " ms", int8Ms.ToString("0.000", CultureInfo.InvariantCulture) + " ms",
            Cells.Times(fp32Ms / int8Ms), result.Seconds.ToString("0.0", CultureInfo.InvariantCulture) + " s |"]));
    }
    return 0;
}
catch (ModelBuildTasks.ModelBuildException e)
{
    Console.Error.WriteLine($"mbt-bench: {(e.File is { } file ? file + ": " : "")}{e.Message} ({e.Code})");
    return 1;
}

static void MethodsTable(string[] models, string validation, string test, string train)
{
    (string Name, CompressionSettings Settings)[] configurations =
    [
        ("IQ 8 bits", new CompressionSettings { Methods = ["iq"] }),
        ("NS 30%", new CompressionSettings { Methods = ["ns"], NsRatio = 0.3 }),
        ("IQ+DC 70%, 16 levels", new CompressionSettings { Methods = ["iq", "dc"], DcRatio = 0.7, SharedLevels = 16 }),
        ("IQ+NS+DC 30%, 70%, 16 levels", new CompressionSettings { Methods = ["iq", "ns", "dc"], NsRatio = 0.3, DcRatio = 0.7, SharedLevels = 16 }),
    ];
    Console.WriteLine("| model | methods | fine-tuning | size ratio | parameters | test acc fp32 | test acc compressed | drop (points) | latency ratio | seconds |");
    Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|");
    foreach (var modelPath in models)
    foreach (var (name, settings) in configurations)
    foreach (var epochs in new[] { 0, 1 })
    {
        if (epochs > 0 && name.StartsWith("IQ 8", StringComparison.Ordinal)) continue; // nothing to fine-tune
        var run = settings with { Search = SearchKind.Fixed, FineTuneEpochs = epochs, TrainData = epochs > 0 ? train : null, TargetAccuracy = 0 };
        var (container, r) = Compressor.Run(modelPath, validation, test, run);
        var parameters = ModelBuildTasks.Packaging.ContainerPackaging.Read(container).Container.Tensors
            .Where(t => t.ElementType is 1 or 3 && t.Dims.Length > 1).Sum(t => t.Dims.Aggregate(1L, (a, b) => a * b));
        Console.WriteLine(string.Join(" | ", [
            $"| {Path.GetFileName(modelPath)}", name, epochs > 0 ? $"{epochs} epoch" : "none",
            Cells.Times(r.Ratio), Cells.Count(parameters), Cells.Percent(r.BaselineTestAccuracy), Cells.Percent(r.TestAccuracy), Cells.TestDrop(r), Cells.Speedup(r),
            r.Seconds.ToString("0", CultureInfo.InvariantCulture) + " |"]));
    }
}

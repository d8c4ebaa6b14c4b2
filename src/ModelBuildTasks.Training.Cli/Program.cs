using System.CommandLine;
using ModelBuildTasks;
using ModelBuildTasks.Data;
using ModelBuildTasks.Evaluation;
using ModelBuildTasks.Graph;
using ModelBuildTasks.Training;

// dotnet-compress-model-train train MODEL --train-data DATASET [--epochs N] [--seconds S] -o OUT.onnx
// Fine-tunes any supported ONNX model with TorchSharp and writes it back with the engine's writer.
var model = new Argument<string>("MODEL") { Description = "The ONNX model to fine-tune." };
var trainData = new Option<string>("--train-data") { Description = "Labelled training DATASET.", Required = true };
var testData = new Option<string?>("--test-data") { Description = "Labelled DATASET to report accuracy on, before and after." };
var preprocess = new Option<string?>("--preprocess") { Description = "Preprocessing SPEC, as for evaluate." };
var epochs = new Option<int>("--epochs") { Description = "Epochs (default 1; 0 with --seconds for a time budget only).", DefaultValueFactory = _ => 1 };
var seconds = new Option<double?>("--seconds") { Description = "Wall-clock budget in seconds." };
var lr = new Option<double>("--lr") { Description = "Initial learning rate.", DefaultValueFactory = _ => 1e-3 };
var optimizer = new Option<OptimizerKind>("--optimizer") { Description = "adam or sgd.", DefaultValueFactory = _ => OptimizerKind.Adam };
var schedule = new Option<LearningRateSchedule>("--schedule") { Description = "cosine, constant or step.", DefaultValueFactory = _ => LearningRateSchedule.Cosine };
var batch = new Option<int>("--batch-size") { Description = "Images per batch.", DefaultValueFactory = _ => 128 };
var seed = new Option<int>("--seed") { Description = "Random seed.", DefaultValueFactory = _ => 1 };
var threads = new Option<int>("--threads") { Description = "libtorch threads (0 = one per core).", DefaultValueFactory = _ => 0 };
var flip = new Option<bool>("--flip") { Description = "Augment with random horizontal flips." };
var keepZeros = new Option<bool>("--keep-zeros") { Description = "Keep every zero weight of Conv/Gemm/MatMul at zero (fine-tuning after pruning)." };
var l1Gamma = new Option<double>("--l1-gamma") { Description = "Add lambda * sum |gamma| of all BatchNorms to the loss (network slimming's sparsity training).", DefaultValueFactory = _ => 0 };
var fakeQuant = new Option<int?>("--fake-quant-bits") { Description = "Quantization-aware: train through the b-bit per-channel weight grid (2 to 8)." };
var layerBits = new Option<string[]>("--layer-bits") { Description = "With --fake-quant-bits: a layer that trains through a narrower grid of its own, as WEIGHTS:BITS (its weight initializer's name; repeatable).", HelpName = "WEIGHTS:BITS" };
var floatLayer = new Option<string[]>("--float-layer") { Description = "With --fake-quant-bits: a layer that quantization keeps float, by its weight initializer's name, which trains without the grid (repeatable).", HelpName = "WEIGHTS" };
var output = new Option<string>("--output", "-o") { Description = "Where to write the fine-tuned ONNX model.", Required = true, HelpName = "OUT.onnx" };
var labels = new Option<string?>("--labels") { Description = "Comma-separated class names to store in the written model (default: the model's own, else the dataset's class folders)." };
var json = new Option<bool>("--json") { Description = "Write one JSON object to stdout." };
var train = new Command("train", "Fine-tune an ONNX model on labelled data.")
{
    model, trainData, testData, preprocess, epochs, seconds, lr, optimizer, schedule, batch, seed, threads, flip, keepZeros, l1Gamma, fakeQuant, layerBits, floatLayer, labels, output, json,
};
train.SetAction(result => ModelBuildTasks.Cli.ExitCodes.Guard(() =>
{
    if (result.GetValue(epochs) < 0 || result.GetValue(epochs) == 0 && result.GetValue(seconds) is null || result.GetValue(batch) < 1)
        throw new ModelBuildException(ErrorCodes.InvalidSetting, "give --epochs >= 1 or a --seconds budget, and --batch-size >= 1");
    var spec = PreprocessSpec.Parse(result.GetValue(preprocess));
    ModelBuildTasks.Cli.OutputPaths.CheckWritable(result.GetValue(output)!, "--output", new ModelBuildTasks.Cli.OutputPaths.Inputs([result.GetValue(model)!])); // before the training, not after it
    var onnx = ModelFile.Load(result.GetValue(model)!);
    var narrowed = LayerBits(result.GetValue(layerBits), result.GetValue(fakeQuant), onnx);
    var kept = (result.GetValue(floatLayer) ?? []).ToHashSet(StringComparer.Ordinal);
    if (kept.FirstOrDefault(name => !onnx.Graph.Initializers.ContainsKey(name)) is { } unknown)
        throw new ModelBuildException(ErrorCodes.InvalidSetting, $"--float-layer names '{unknown}', which is not a weight of the model");
    // Labels in the model's class order where class folders name the same classes in another order: trained as numbered, they would swap classes.
    var order = result.GetValue(labels) is { } given ? LabelNames.Parse(given) : LabelNames.Of(onnx);
    var data = LabelNames.Align(DatasetLoader.Load(result.GetValue(trainData)!, spec), order, LabelRange.ClassCount(onnx));
    ApplyLabels(onnx, result.GetValue(labels), data, result.GetValue(model)!);
    var test = result.GetValue(testData) is { } t ? LabelNames.Align(DatasetLoader.Load(t, spec), order, LabelRange.ClassCount(onnx)) : null;
    // Checked before training, as compress checks its validation data: libtorch would stop at the first batch with its own
    // words (a shape mismatch, a target out of bounds), or train 32x32 images through a 28x28 model's global pooling.
    var input = onnx.Graph.Inputs[0];
    foreach (var set in new[] { data, test }.OfType<ImageDataset>())
    {
        LabelRange.Check(set, LabelRange.ClassCount(onnx));
        if (input.Shape is { } shape) ModelRunner.CheckCompatible(input.Name, shape.Dims.Select(d => d.IsKnown ? d.Value : -1).ToArray(), set);
    }
    double? before = test is null ? null : Evaluator.Evaluate(OnnxExport.ToBytes(onnx), test, latencySamples: 0).Accuracy;
    var masks = result.GetValue(keepZeros) ? ZeroMasks(onnx) : null;
    var lambda = (float)result.GetValue(l1Gamma);
    if (lambda < 0) throw new ModelBuildException(ErrorCodes.InvalidSetting, "--l1-gamma must be >= 0");
    if (lambda > 0 && !onnx.Graph.Nodes.Any(n => n.OpType == "BatchNormalization"))
        throw new ModelBuildException(ErrorCodes.InvalidSetting, "--l1-gamma makes BatchNorm scales sparse, and the model has no BatchNorm (folded into its convolutions at export)", result.GetValue(model));
    if (result.GetValue(fakeQuant) is < 2 or > 8) throw new ModelBuildException(ErrorCodes.InvalidSetting, "--fake-quant-bits must be 2 to 8");
    ExtraLoss? sparsity = lambda > 0 ? m => m.BatchNormScales.Select(g => g.abs().sum()).Aggregate((a, b) => a + b) * lambda : null;
    var report = Trainer.Train(onnx, data, new TrainOptions
    {
        Epochs = result.GetValue(epochs), Seconds = result.GetValue(seconds), LearningRate = result.GetValue(lr),
        Optimizer = result.GetValue(optimizer), Schedule = result.GetValue(schedule), BatchSize = result.GetValue(batch),
        Seed = result.GetValue(seed), Threads = result.GetValue(threads), HorizontalFlip = result.GetValue(flip),
        FakeQuantBits = result.GetValue(fakeQuant),
        LayerBits = narrowed,
        FloatLayers = kept,
    }, masks, sparsity, progress: new Progress<ModelBuildTasks.Progress.ProgressUpdate>(u =>
    {
        if (u.Total > 0 && u.Done % Math.Max(1, u.Total / 10) == 0) Console.Error.WriteLine($"train: {u.Done}/{u.Total} steps");
    }));
    if (report.SkippedSteps > 0)
        Console.Error.WriteLine($"warning: {report.SkippedSteps} of {report.Steps} steps skipped: their loss or a gradient was not finite");
    double? after = test is null ? null : Evaluator.Evaluate(OnnxExport.ToBytes(onnx), test, latencySamples: 0).Accuracy;
    ModelFile.Save(onnx, result.GetValue(output)!);
    if (result.GetValue(json))
        ModelBuildTasks.Cli.JsonOutput.Write(new
        {
            output = result.GetValue(output), report.Epochs, report.Steps, report.Seconds, report.ImagesPerSecond, report.FinalLoss,
            report.Threads, skipped_steps = report.SkippedSteps, native = report.NativeStatus, test_accuracy_before = before, test_accuracy_after = after,
        });
    else
    {
        Console.WriteLine($"Trained      {report.Epochs:0.##} epochs, {report.Steps} steps in {report.Seconds:0.0} s ({report.ImagesPerSecond:0} images/s, {report.Threads} threads)");
        Console.WriteLine($"Final loss   {report.FinalLoss:0.0000}");
        if (test is not null) Console.WriteLine($"Test         {before:P2} -> {after:P2}");
        Console.WriteLine($"Wrote        {result.GetValue(output)}");
    }
    return 0;
}));
var root = new RootCommand("The fine-tuning add-on of dotnet compress-model.") { train };
// Run through the main tool, usage reads "dotnet compress-model train"; run alone, as the SDK runs a dotnet-* tool.
ModelBuildTasks.Cli.CliHelp.Configure(root, Environment.GetEnvironmentVariable(ModelBuildTasks.Cli.CliHelp.UsageNameVariable) is { Length: > 0 } usage ? usage : "dotnet compress-model-train");
ModelBuildTasks.Cli.CliValues.Configure(root);

// The class names the written model stores: --labels if given (its count must match the model's
// classes); else the model's own, with a warning when the dataset's class folders disagree; else the
// dataset's. A model fine-tuned on new classes otherwise kept the old names silently.
static void ApplyLabels(OnnxModel model, string? given, ImageDataset data, string modelPath)
{
    var classes = LabelRange.ClassCount(model);
    if (given is not null)
    {
        var names = LabelNames.Parse(given);
        if (names.Any(n => n.Length == 0)) throw new ModelBuildException(ErrorCodes.InvalidSetting, "--labels has an empty class name");
        if (classes is { } n && names.Length != n) throw new ModelBuildException(ErrorCodes.InvalidSetting, $"--labels names {names.Length} classes, the model's output has {n}");
        model.Metadata["labels"] = string.Join(",", names);
        return;
    }
    var stored = LabelNames.Of(model);
    if (LabelNames.Mismatch(stored, data.ClassNames, "pass --labels to store the dataset's") is { } warning)
        Console.Error.WriteLine($"{modelPath}: warning {ErrorCodes.LabelNameMismatch}: {warning}");
    else if (stored is null && data.ClassNames is { Count: > 0 } folders) model.Metadata["labels"] = string.Join(",", folders);
}

// --layer-bits WEIGHTS:BITS, repeated: each a weight the model has, on a grid from 2 bits up to --fake-quant-bits.
static Dictionary<string, int> LayerBits(string[]? given, int? modelBits, OnnxModel model)
{
    var bits = new Dictionary<string, int>(StringComparer.Ordinal);
    if (given is not { Length: > 0 }) return bits;
    if (modelBits is not { } grid) throw new ModelBuildException(ErrorCodes.InvalidSetting, "--layer-bits needs --fake-quant-bits");
    foreach (var entry in given)
    {
        if (ModelBuildTasks.Passes.Quantization.LayerNarrowing.ParseEntry(entry) is not var (name, b))
            throw new ModelBuildException(ErrorCodes.InvalidSetting, $"--layer-bits takes WEIGHTS:BITS, not '{entry}'");
        if (!model.Graph.Initializers.ContainsKey(name)) throw new ModelBuildException(ErrorCodes.InvalidSetting, $"--layer-bits names '{name}', which is not a weight of the model");
        if (b < 2 || b > grid) throw new ModelBuildException(ErrorCodes.InvalidSetting, $"--layer-bits gives '{name}' {b} bits; a layer's grid is 2 bits up to --fake-quant-bits ({grid})");
        bits[name] = b;
    }
    return bits;
}

// Masks that keep pruned weights pruned: 1 where a prunable weight is nonzero, 0 where it is zero.
static Dictionary<string, float[]> ZeroMasks(OnnxModel model) =>
    ModelBuildTasks.Passes.Pruning.MagnitudePruning.PrunableWeights(model.Graph)
        .Where(t => t.Floats.ToArray().Any(v => v == 0))
        .ToDictionary(t => t.Name, t => t.Floats.ToArray().Select(v => v == 0 ? 0f : 1f).ToArray());
var parsed = root.Parse(args);
if (parsed.Errors.Count > 0 && !ModelBuildTasks.Cli.CliHelp.IsHelp(parsed))
{
    foreach (var error in parsed.Errors) Console.Error.WriteLine($"error {ErrorCodes.InvalidSetting}: {error.Message}");
    return 2;
}
return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });

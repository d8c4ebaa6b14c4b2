using System.CommandLine;
using ModelBuildTasks.Compression;
using ModelBuildTasks.Data;
using ModelBuildTasks.Evaluation;
using ModelBuildTasks.Graph;

namespace ModelBuildTasks.Cli.Commands;

/// <summary><c>evaluate MODEL --data DATASET [--json]</c>: top-1 accuracy and latency with ONNX Runtime.</summary>
static class EvaluateCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("MODEL") { Description = "The ONNX model or .cmodel container." };
        var data = new Option<string>("--data") { Description = "DATASET: an IDX images file (labels found beside it), a .npz with x and y, or an image folder.", Required = true };
        var preprocess = new Option<string?>("--preprocess") { Description = "Preprocessing SPEC, e.g. \"resize=32x32;scale=1/255;mean=0.5;std=0.5\" (default: the model's own, else scale 8-bit pixels to [0, 1])." };
        var reference = new Option<string?>("--reference") { Description = "Report top-1 agreement with this model (e.g. the original of a compressed one) instead of accuracy against the labels." };
        var limit = new Option<int?>("--limit") { Description = "Evaluate only the first N images." };
        var threads = new Option<int>("--threads") { Description = "ONNX Runtime intra-op threads (0 = one per core).", DefaultValueFactory = _ => 0 };
        var batch = new Option<int>("--batch-size") { Description = "Images per batch.", DefaultValueFactory = _ => 64 };
        var latency = new Option<int>("--latency-samples") { Description = "Single-image runs timed for latency.", DefaultValueFactory = _ => 100 };
        var json = new Option<bool>("--json") { Description = "Write one JSON object to stdout." };
        var command = new Command("evaluate", "Measure a model's top-1 accuracy and per-image latency on a dataset.")
        {
            model, data, preprocess, reference, limit, threads, batch, latency, json,
        };
        command.SetAction(result => ExitCodes.Guard(() =>
        {
            var modelPath = result.GetValue(model)!;
            if (result.GetValue(threads) < 0 || result.GetValue(batch) < 1 || result.GetValue(latency) < 0 || result.GetValue(limit) is < 1)
                throw new ModelBuildException(ErrorCodes.InvalidSetting, "--threads, --latency-samples must be >= 0 and --batch-size, --limit >= 1");
            // Threads beyond the machine's only queue for its cores (1,000 on two took minutes): said, not refused, since a
            // script may fix a count for machines larger than the one it runs on.
            if (result.GetValue(threads) > 4 * Environment.ProcessorCount)
                Console.Error.WriteLine($"warning: --threads {result.GetValue(threads)} is more than 4 x this machine's {Environment.ProcessorCount} processors: the runs will queue for them");
            var ir = ModelFile.Load(modelPath);
            var referencePath = result.GetValue(reference);
            var referenceModel = referencePath is null ? null : ModelFile.Load(referencePath);
            // As compress does: the preprocessing the model records, unless one is given.
            var stored = LabelNames.Of(ir);
            var dataset = LabelNames.Align(DatasetLoader.Load(result.GetValue(data)!, Passes.PixelInput.Requested(result.GetValue(preprocess), ir), result.GetValue(limit)), stored, LabelRange.ClassCount(ir));
            var onnx = Bytes(ir, modelPath, dataset);
            var referenceBytes = referenceModel is null ? null : Bytes(referenceModel, referencePath!, dataset);
            // Measured against a reference, the labels are not used: neither warned about nor checked.
            if (referenceBytes is null)
            {
                if (LabelNames.Mismatch(stored, dataset.ClassNames, "the accuracy counts the data's class i as the model's class i") is { } mismatch)
                    Console.Error.WriteLine($"{modelPath}: warning {ErrorCodes.LabelNameMismatch}: {mismatch}");
                LabelRange.Check(dataset, LabelRange.ClassCount(ir));
            }
            var options = new RunnerOptions { Threads = result.GetValue(threads), BatchSize = result.GetValue(batch) };
            var evaluation = ConsoleProgress.Run("evaluate", progress =>
                Evaluator.Evaluate(onnx, dataset, options, referenceBytes, result.GetValue(latency), progress, modelPath));
            if (result.GetValue(json))
            {
                JsonOutput.Write(new
                {
                    model = modelPath,
                    data = dataset.Source,
                    evaluation.Accuracy,
                    measure = evaluation.AgainstLabels ? "labels" : "agreement",
                    reference = evaluation.AgainstLabels ? null : referencePath ?? modelPath, // agreement with itself, without labels or reference
                    latency_ms_median = evaluation.LatencyMsMedian,
                    latency_ms_p90 = evaluation.LatencyMsP90,
                    evaluation.Threads,
                    single_image_threads = evaluation.SingleImageThreads,
                    evaluation.Images,
                    evaluation.BatchSize,
                    evaluation.ImagesPerSecond,
                });
            }
            else
            {
                Console.WriteLine($"Model        {modelPath}");
                Console.WriteLine($"Data         {dataset.Source} ({evaluation.Images} images, {dataset.ImageShape})");
                Console.WriteLine(evaluation.AgainstLabels
                    ? $"Accuracy     {Units.Percent(evaluation.Accuracy)} top-1"
                    : $"Agreement    {Units.Percent(evaluation.Accuracy)} top-1 with the {(referenceBytes is null ? "model itself (no labels)" : "reference model")}");
                Console.WriteLine(evaluation.LatencyMsMedian is { } median && evaluation.LatencyMsP90 is { } p90
                    ? $"Latency      {Units.Ms(median)} median, {Units.Ms(p90)} p90 per image (batch 1" +
                      (evaluation.SingleImageThreads is { } single && single != evaluation.Threads ? $", on {single} thread{(single == 1 ? "" : "s")}, measured faster" : "") + ")"
                    : "Latency      not measured (--latency-samples 0)");
                Console.WriteLine($"Throughput   {evaluation.ImagesPerSecond:0} images/s at batch {evaluation.BatchSize}");
                Console.WriteLine($"Threads      {evaluation.Threads}");
            }
            return ExitCodes.Ok;
        }));
        return command;
    }

    // The bytes the app runs, except where loading converts the model as compress does (an N x H x W x C input to
    // N x C x H x W, float16 to float: the datasets are float C x H x W; a symbolic image size to the data's), so an
    // original is comparable with its container.
    static byte[] Bytes(OnnxModel model, string path, ImageDataset data)
    {
        var sizeFixed = SymbolicSizes.FixInput(model, data) is not null;
        return sizeFixed || ModelFile.WasConverted(model) ? OnnxExport.ToBytes(model) : ModelFile.LoadOnnxBytes(path);
    }
}

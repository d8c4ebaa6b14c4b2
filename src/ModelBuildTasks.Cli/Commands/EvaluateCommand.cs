using System.CommandLine;
using ModelBuildTasks.Data;
using ModelBuildTasks.Evaluation;
using ModelBuildTasks.Graph;

namespace ModelBuildTasks.Cli.Commands;

/// <summary><c>evaluate MODEL --data DATASET [--json]</c>: top-1 accuracy and latency with ONNX Runtime.</summary>
static class EvaluateCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("MODEL") { Description = "The ONNX model file." };
        var data = new Option<string>("--data") { Description = "DATASET: an IDX images file (labels found beside it), a .npz with x and y, or an image folder.", Required = true };
        var preprocess = new Option<string?>("--preprocess") { Description = "Preprocessing SPEC, e.g. \"resize=32x32;scale=1/255;mean=0.5;std=0.5\" (default: the model's own, else scale 8-bit pixels to [0, 1])." };
        var reference = new Option<string?>("--reference") { Description = "For unlabeled data: report top-1 agreement with this model instead of accuracy." };
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
            var onnx = ModelFile.LoadOnnxBytes(modelPath);
            var referenceBytes = result.GetValue(reference) is { } r ? ModelFile.LoadOnnxBytes(r) : null;
            var ir = OnnxImport.ToModel(ModelBuildTasks.Onnx.OnnxModelFile.Parse(onnx, modelPath), modelPath);
            // As compress does: the preprocessing the model records, unless one is given.
            var dataset = DatasetLoader.Load(result.GetValue(data)!, PreprocessSpec.Parse(result.GetValue(preprocess) ?? ir.Metadata.GetValueOrDefault("preprocess")), result.GetValue(limit));
            LabelRange.Check(dataset, LabelRange.ClassCount(ir));
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
                Console.WriteLine($"Latency      {Units.Ms(evaluation.LatencyMsMedian)} median, {Units.Ms(evaluation.LatencyMsP90)} p90 per image (batch 1" +
                    (evaluation.SingleImageThreads is { } single && single != evaluation.Threads ? $", on {single} thread{(single == 1 ? "" : "s")}, measured faster" : "") + ")");
                Console.WriteLine($"Throughput   {evaluation.ImagesPerSecond:0} images/s at batch {evaluation.BatchSize}");
                Console.WriteLine($"Threads      {evaluation.Threads}");
            }
            return ExitCodes.Ok;
        }));
        return command;
    }
}

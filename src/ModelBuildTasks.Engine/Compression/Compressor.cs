using System.Diagnostics;
using System.Security.Cryptography;
using ModelBuildTasks.Container;
using ModelBuildTasks.Data;
using ModelBuildTasks.Evaluation;
using ModelBuildTasks.Graph;
using ModelBuildTasks.Packaging;
using ModelBuildTasks.Passes.Quantization;
using ModelBuildTasks.Progress;
using ModelBuildTasks.Search;
using ModelBuildTasks.Shapes;

namespace ModelBuildTasks.Compression;

/// <summary>
/// The compression pipeline: measure the original model, search the methods' knobs (or take them
/// fixed), and check the accuracy contract on what the app will actually run (the container,
/// decoded). The one entry point of the CLI's <c>compress</c> and of the MSBuild task (which runs
/// the CLI).
/// </summary>
public static class Compressor
{
    /// <summary>The engine's version, part of every cache key and container.</summary>
    public static string EngineVersion { get; } =
        typeof(Compressor).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    /// <summary>Compresses <paramref name="modelPath"/> under <paramref name="settings"/>.</summary>
    /// <param name="modelPath">The fp32 ONNX model.</param>
    /// <param name="dataPath">Validation DATASET: the target is checked on it.</param>
    /// <param name="testDataPath">Optional held-out DATASET, reported but never used for decisions.</param>
    /// <param name="settings">Methods, search, accuracy budget, ...</param>
    /// <param name="progress">Receives stage updates.</param>
    public static CompressionResult Run(string modelPath, string dataPath, string? testDataPath, CompressionSettings settings, IProgress<ProgressUpdate>? progress = null)
    {
        settings.Validate();
        var started = Stopwatch.GetTimestamp();
        var inputs = CompressionInputs.Load(modelPath, dataPath, testDataPath, settings);
        var validation = inputs.Validation;

        Report(progress, "baseline");
        var baseline = Evaluator.Evaluate(inputs.OriginalOnnx, validation, latencySamples: 0, displayPath: modelPath);
        var target = settings.TargetAccuracy ?? baseline.Accuracy - settings.MaxAccuracyDrop / 100.0;

        var chain = new ChainBuilder(inputs.Model, settings, inputs.Preprocess.ToString(), progress);
        var evaluator = new CandidateEvaluator(chain, validation, inputs.OriginalOnnx,
            (m, chosen) => inputs.Metadata(m, chosen, new AccuracyFigures(Round(baseline.Accuracy), 0, null)), settings, progress);
        var search = Search(evaluator, settings, baseline.Accuracy, target);
        var best = search.Best;
        // Percentile calibration clips outliers; it is tried only when MinMax misses, as it rarely helps otherwise.
        if (best.Accuracy < target && best.Point.Bits is not null && settings.Calibration is null)
        {
            var percentile = evaluator.Evaluate(best.Point, "calibration", CalibrationMethod.Percentile);
            if (percentile.Accuracy > best.Accuracy) best = percentile;
        }
        if (best.Accuracy < target) best = evaluator.Evaluated.MaxBy(c => c.Accuracy)!; // the contract: the best model found

        double? baselineTest = null, finalTest = null;
        var compressedOnnx = OnnxExport.ToBytes(best.Model);
        if (inputs.Test is { } test)
        {
            Report(progress, "test");
            baselineTest = Evaluator.Evaluate(inputs.OriginalOnnx, test, latencySamples: 0).Accuracy;
            finalTest = Evaluator.Evaluate(compressedOnnx, test, latencySamples: 0, referenceOnnx: test.HasLabels ? null : inputs.OriginalOnnx).Accuracy;
        }
        var chosen = evaluator.Chosen(best.Point, best.Calibration);
        var finalContainer = ContainerPackaging.Pack(best.Model, inputs.Metadata(best.Model, chosen,
            new AccuracyFigures(Round(baseline.Accuracy), Round(best.Accuracy), finalTest is { } t ? Round(t) : null)));
        Report(progress, "latency");
        var latencyData = validation.Subset(Enumerable.Range(0, Math.Min(validation.Count, 64)).ToArray());

        var report = new CompressionReport
        {
            Model = modelPath,
            Data = dataPath,
            TestData = testDataPath,
            OriginalBytes = inputs.SourceBytes.Length,
            Measure = validation.HasLabels ? "labels" : "agreement",
            BaselineAccuracy = baseline.Accuracy,
            TargetAccuracy = Math.Round(target, 6),
            FinalAccuracy = best.Accuracy,
            BaselineTestAccuracy = baselineTest,
            TestAccuracy = finalTest,
            TargetMet = best.Accuracy >= target,
            Search = settings.Search.ToString().ToLowerInvariant(),
            Resolution = settings.Search == SearchKind.Fixed ? null : settings.Resolution,
            Evaluations = evaluator.Evaluated.Count,
            Seconds = Math.Round(Stopwatch.GetElapsedTime(started).TotalSeconds, 2),
            LatencyMsOriginal = Math.Round(Evaluator.Percentile(Latency(inputs.OriginalOnnx, latencyData), 0.5), 4),
            LatencyMsCompressed = Math.Round(Evaluator.Percentile(Latency(compressedOnnx, latencyData), 0.5), 4),
            ParametersOriginal = inputs.Model.Graph.ParameterCount,
            ParametersCompressed = NonzeroWeights(best.Model),
            Settings = settings.Canonical(),
            Chosen = new SortedDictionary<string, string>(chosen.ToDictionary(kv => kv.Key, kv => kv.Value), StringComparer.Ordinal),
            Stages = search.Stages,
            Candidates = evaluator.Evaluated.Select(c => new CandidateResult($"{c.Stage}: {c.Point}{(c.Calibration == CalibrationMethod.MinMax ? "" : " " + c.Calibration.ToString().ToLowerInvariant())}",
                c.Bytes, c.Accuracy, c.Stage, c.Point.Bits, c.Point.NsRatio, c.Point.DcRatio, ReferenceEquals(c, best))).ToList(),
            FineTuning = settings.FineTunes ? chain.FineTuning : null,
            Warnings = Warnings(settings, validation.Count, baseline.Accuracy),
            Channels = best.Slimming?.KeptPerLayer.Select(kv => new LayerChannels(kv.Key, kv.Value.Kept, kv.Value.Of)).ToList() ?? [],
        }.For(finalContainer, inputs.Model);
        return new CompressionResult(finalContainer, report);
    }

    // Two standard errors of the validation accuracy against the budget: beyond it, passing the target on validation says little.
    static IReadOnlyList<ReportWarning> Warnings(CompressionSettings settings, int images, double accuracy)
    {
        var noise = 2 * Math.Sqrt(accuracy * (1 - accuracy) / Math.Max(1, images)) * 100;
        return settings.TargetAccuracy is null && settings.Search != SearchKind.Fixed && noise > settings.MaxAccuracyDrop
            ? [new(ErrorCodes.NoisyValidation, $"{images} validation images measure accuracy to +-{noise:0.0#} points (two standard errors), more than the {settings.MaxAccuracyDrop:0.##}-point budget; the drop on new data may exceed it: use more validation images")]
            : [];
    }

    static SearchResult Search(CandidateEvaluator evaluator, CompressionSettings settings, double baseline, double target)
    {
        var space = SearchSpace.From(settings);
        switch (settings.Search)
        {
            case SearchKind.Margin:
                return MarginSearch.Run(evaluator, space, settings.Methods, baseline, target, settings.MaxEvaluations, settings.FineTunes);
            case SearchKind.Grid:
                return GridSearch.Run(evaluator, space, settings.Methods, target);
            default:
                var point = new ChainPoint(
                    settings.Methods.Contains("iq") ? settings.Bits : null,
                    settings.Methods.Contains("ns") ? settings.NsRatio : 0,
                    settings.Methods.Contains("dc") ? settings.DcRatio : null,
                    settings.Methods.Contains("dc") && settings.Methods.Contains("iq") ? settings.SharedLevels : 0);
                var candidate = evaluator.Evaluate(point, "fixed");
                return new SearchResult(candidate, [new StageSummary("fixed", target, point.ToString(), 1, candidate.Accuracy, candidate.Bytes)]);
        }
    }

    /// <summary>A container of the original fp32 model (same metadata, no compression), embedded instead when the target is missed and that is allowed.</summary>
    public static CompressionResult Uncompressed(string modelPath, CompressionResult compressed)
    {
        var report = compressed.Report;
        var metadata = ContainerPackaging.Read(compressed.Container).Metadata with
        {
            Compression = new SortedDictionary<string, string>(StringComparer.Ordinal) { ["methods"] = "none", ["reason"] = "accuracy target not met" },
            Accuracy = new AccuracyFigures(Round(report.BaselineAccuracy), Round(report.BaselineAccuracy), report.BaselineTestAccuracy is { } t ? Round(t) : null),
        };
        var model = ModelFile.Load(modelPath);
        var container = ContainerPackaging.Pack(model, metadata);
        return new CompressionResult(container, report.For(container, model));
    }

    // Weights left that the app multiplies by: nonzero elements of the float and int8 weight tensors (scales and zero points aside).
    static long NonzeroWeights(OnnxModel model) =>
        model.Graph.Initializers.Values
            .Where(t => t.Dims.Length > 0 && (t.Type is ElementType.Float or ElementType.Int8 or ElementType.Int32) && !t.Name.EndsWith("_scale", StringComparison.Ordinal) && !t.Name.EndsWith("_zero_point", StringComparison.Ordinal))
            .Sum(t => t.Type switch
            {
                ElementType.Float => (long)t.Floats.ToArray().Count(v => v != 0),
                ElementType.Int8 => t.Data.Count(b => b != 0),
                _ => System.Runtime.InteropServices.MemoryMarshal.Cast<byte, int>(t.Data.AsSpan()).ToArray().Count(v => v != 0),
            });

    static double[] Latency(byte[] onnx, ImageDataset data)
    {
        using var runner = new ModelRunner(onnx);
        return runner.MeasureLatency(data, samples: 50);
    }

    static double Round(double value) => Math.Round(value, 6);

    static void Report(IProgress<ProgressUpdate>? progress, string stage) =>
        progress?.Report(new ProgressUpdate(stage, 0, 1, "steps"));
}

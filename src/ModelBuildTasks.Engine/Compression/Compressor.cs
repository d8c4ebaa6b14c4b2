using System.Security.Cryptography;
using ModelBuildTasks.Container;
using ModelBuildTasks.Data;
using ModelBuildTasks.Evaluation;
using ModelBuildTasks.Graph;
using ModelBuildTasks.Packaging;
using ModelBuildTasks.Passes.Quantization;
using ModelBuildTasks.Progress;
using ModelBuildTasks.Shapes;

namespace ModelBuildTasks.Compression;

/// <summary>
/// The compression pipeline: measure the original model, compress it, and check the accuracy
/// contract on what the app will actually run (the container, decoded). The one entry point of
/// the CLI's <c>compress</c> and of the MSBuild task (which runs the CLI).
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
    /// <param name="settings">Methods, bits, accuracy budget, ...</param>
    /// <param name="progress">Receives stage updates.</param>
    public static CompressionResult Run(string modelPath, string dataPath, string? testDataPath, CompressionSettings settings, IProgress<ProgressUpdate>? progress = null)
    {
        settings.Validate();
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var sourceBytes = File.Exists(modelPath) ? File.ReadAllBytes(modelPath) : throw new ModelBuildException(ErrorCodes.ModelNotFound, "model file not found", modelPath);
        var model = ModelFile.Load(modelPath);
        var unsupported = ShapeInference.Infer(model.Graph).Unsupported;
        if (unsupported.Count > 0)
            throw new ModelBuildException(ErrorCodes.UnsupportedOperator,
                "the model uses operators the engine does not support: " + string.Join(", ", unsupported.Select(u => $"{u.OpType} (node '{u.NodeName}')")), modelPath);

        var requested = PreprocessSpec.Parse(settings.Preprocess ?? model.Metadata.GetValueOrDefault("preprocess"));
        var raw = DatasetLoader.LoadRaw(dataPath, requested.Resize);
        if (settings.MaxValidationImages > 0 && settings.MaxValidationImages < raw.Count) raw = raw.Subset(Enumerable.Range(0, settings.MaxValidationImages).ToArray());
        var spec = requested.Resolved(raw.EightBit); // recorded for apps with nothing left implicit
        var validation = Preprocessing.Apply(raw, spec);
        var test = testDataPath is null ? null : DatasetLoader.Load(testDataPath, spec);
        var original = OnnxExport.ToBytes(model);

        Report(progress, "baseline", 0, 1);
        var baseline = Evaluator.Evaluate(original, validation, latencySamples: 0, displayPath: modelPath);
        var target = settings.TargetAccuracy ?? baseline.Accuracy - settings.MaxAccuracyDrop / 100.0;

        var labels = settings.Labels
            ?? model.Metadata.GetValueOrDefault("labels")?.Split(',').Select(l => l.Trim()).ToArray()
            ?? validation.ClassNames
            ?? [];
        ContainerMetadata Metadata(OnnxModel m, IReadOnlyDictionary<string, string> chosen, double final, double? testAccuracy) => new()
        {
            Inputs = Describe(m, m.Graph.Inputs),
            Outputs = Describe(m, m.Graph.Outputs),
            Labels = labels,
            Preprocess = spec.ToString(),
            Compression = new SortedDictionary<string, string>(chosen.ToDictionary(kv => kv.Key, kv => kv.Value), StringComparer.Ordinal),
            Accuracy = new AccuracyFigures(Round(baseline.Accuracy), Round(final), testAccuracy is null ? null : Round(testAccuracy.Value)),
            SourceSha256 = Convert.ToHexStringLower(SHA256.HashData(sourceBytes)),
            EngineVersion = EngineVersion,
        };

        // Network slimming removes channels from the float model (it needs the BatchNorm scales); with
        // fine-tuning, sparsity training (L1 on the scales) comes first and fine-tuning after. Deep
        // compression's pruning, when fine-tuned, is done here too, on the weights training sees.
        var slimmed = model;
        var fineTune = settings.FineTuneEpochs > 0;
        var l1 = settings.L1Gamma ?? FineTuning.FineTuner.DefaultL1Gamma(model);
        FineTuning.FineTuneRun Run(bool keepZeros = false, double sparsity = 0) =>
            new(settings.TrainData!, settings.FineTuneEpochs, spec.ToString(), settings.FineTuneLearningRate, keepZeros, sparsity);
        if (settings.Methods.Contains("ns"))
        {
            slimmed = OnnxImport.ToModel(OnnxExport.ToProto(model));
            if (fineTune)
            {
                Report(progress, $"ns: sparsity training ({settings.FineTuneEpochs} epochs, l1 {l1:G2})", 0, 1);
                slimmed = FineTuning.FineTuner.Run(slimmed, Run(sparsity: l1));
            }
            Passes.Slimming.NetworkSlimming.Apply(slimmed, settings.NsRatio);
            if (fineTune)
            {
                Report(progress, $"ns: fine-tuning ({settings.FineTuneEpochs} epochs)", 0, 1);
                slimmed = FineTuning.FineTuner.Run(slimmed, Run());
            }
        }
        var pruneWhileQuantizing = settings.Methods.Contains("dc") ? settings.DcRatio : 0;
        if (settings.Methods.Contains("dc") && fineTune)
        {
            slimmed = ReferenceEquals(slimmed, model) ? OnnxImport.ToModel(OnnxExport.ToProto(model)) : slimmed;
            Passes.Pruning.MagnitudePruning.Apply(slimmed.Graph, settings.DcRatio);
            Report(progress, $"dc: fine-tuning the pruned model ({settings.FineTuneEpochs} epochs)", 0, 1);
            slimmed = FineTuning.FineTuner.Run(slimmed, Run(keepZeros: true));
            pruneWhileQuantizing = 0; // already pruned; zeros stay zero through BatchNorm folding
        }

        // Integer quantization: the chosen bits, with MinMax calibration first and Percentile if MinMax misses the target.
        var iq = settings.Methods.Contains("iq");
        var calibrations = !iq ? [CalibrationMethod.MinMax] : settings.Calibration is { } c ? [c] : new[] { CalibrationMethod.MinMax, CalibrationMethod.Percentile };
        var candidates = new List<CandidateResult>();
        (byte[] Container, OnnxModel Model, Dictionary<string, string> Chosen, double Accuracy)? best = null;
        foreach (var calibration in calibrations)
        {
            var dc = settings.Methods.Contains("dc");
            var chosen = new Dictionary<string, string> { ["methods"] = string.Join(",", settings.Methods) };
            if (iq)
            {
                chosen["bits"] = settings.Bits.ToString(System.Globalization.CultureInfo.InvariantCulture);
                chosen["calibration"] = calibration.ToString().ToLowerInvariant();
            }
            if (settings.Methods.Contains("ns")) chosen["ns_ratio"] = settings.NsRatio.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture);
            if (fineTune)
            {
                chosen["fine_tune_epochs"] = settings.FineTuneEpochs.ToString(System.Globalization.CultureInfo.InvariantCulture);
                if (settings.Methods.Contains("ns")) chosen["l1_gamma"] = l1.ToString("G2", System.Globalization.CultureInfo.InvariantCulture);
            }
            if (dc)
            {
                chosen["dc_ratio"] = settings.DcRatio.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture);
                chosen["shared_levels"] = settings.SharedLevels.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
            var description = string.Join(" ", chosen.Where(kv => kv.Key != "methods").Select(kv => $"{kv.Key}={kv.Value}"));
            Report(progress, $"{string.Join("+", settings.Methods)} {description}", candidates.Count, calibrations.Length);
            var quantized = !iq ? slimmed : QdqQuantizer.Quantize(slimmed, validation, new QuantizationOptions
            {
                Bits = settings.Bits,
                Calibration = calibration,
                PruneRatio = pruneWhileQuantizing,
                SharedLevels = dc ? settings.SharedLevels : 0,
            }).Model;
            var container = ContainerPackaging.Pack(quantized, Metadata(quantized, chosen, 0, null));
            // Measure what the app will run: the container, decoded.
            var accuracy = Evaluator.Evaluate(ContainerPackaging.ToOnnx(container), validation, latencySamples: 0,
                referenceOnnx: validation.HasLabels ? null : original).Accuracy;
            candidates.Add(new CandidateResult($"{string.Join("+", settings.Methods)} {description}", container.Length, accuracy));
            if (best is null || accuracy > best.Value.Accuracy) best = (container, quantized, chosen, accuracy);
            if (accuracy >= target) break;
        }

        var (_, finalModel, finalChosen, finalAccuracy) = best!.Value;
        double? baselineTest = null, finalTest = null;
        var compressedOnnx = OnnxExport.ToBytes(finalModel);
        if (test is not null)
        {
            Report(progress, "test", 0, 1);
            baselineTest = Evaluator.Evaluate(original, test, latencySamples: 0).Accuracy;
            finalTest = Evaluator.Evaluate(compressedOnnx, test, latencySamples: 0, referenceOnnx: test.HasLabels ? null : original).Accuracy;
        }
        var finalContainer = ContainerPackaging.Pack(finalModel, Metadata(finalModel, finalChosen, finalAccuracy, finalTest));
        var latencyData = validation.Subset(Enumerable.Range(0, Math.Min(validation.Count, 64)).ToArray());
        var latency = (
            Evaluation.Evaluator.Percentile(Latency(original, latencyData), 0.5),
            Evaluation.Evaluator.Percentile(Latency(compressedOnnx, latencyData), 0.5));

        var report = new CompressionReport
        {
            Model = modelPath,
            Data = dataPath,
            TestData = testDataPath,
            OriginalBytes = sourceBytes.Length,
            Measure = validation.HasLabels ? "labels" : "agreement",
            BaselineAccuracy = baseline.Accuracy,
            TargetAccuracy = Math.Round(target, 6),
            FinalAccuracy = finalAccuracy,
            BaselineTestAccuracy = baselineTest,
            TestAccuracy = finalTest,
            TargetMet = finalAccuracy >= target,
            Evaluations = candidates.Count,
            Seconds = Math.Round(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds, 2),
            LatencyMsOriginal = Math.Round(latency.Item1, 4),
            LatencyMsCompressed = Math.Round(latency.Item2, 4),
            Settings = settings.Canonical(),
            Chosen = new SortedDictionary<string, string>(finalChosen, StringComparer.Ordinal),
            Candidates = candidates,
        }.For(finalContainer);
        return new CompressionResult(finalContainer, report);
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
        var container = ContainerPackaging.Pack(ModelFile.Load(modelPath), metadata);
        return new CompressionResult(container, report.For(container));
    }

    static double[] Latency(byte[] onnx, ImageDataset data)
    {
        using var runner = new ModelRunner(onnx);
        return runner.MeasureLatency(data, samples: 50);
    }

    static IReadOnlyList<TensorDescription> Describe(OnnxModel model, IEnumerable<ValueInfo> values)
    {
        var inferred = ShapeInference.Infer(model.Graph).Values;
        return values.Select(v =>
        {
            var info = v.Shape is null && inferred.TryGetValue(v.Name, out var i) ? i : v;
            return new TensorDescription(v.Name, ElementTypes.Name(info.Type), info.Shape?.Dims.Select(d => d.IsKnown ? d.ToString() : d.Symbol ?? "N").ToArray() ?? []);
        }).ToList();
    }

    static double Round(double value) => Math.Round(value, 6);

    static void Report(IProgress<ProgressUpdate>? progress, string stage, long done, long total) =>
        progress?.Report(new ProgressUpdate(stage, done, total, "steps"));
}

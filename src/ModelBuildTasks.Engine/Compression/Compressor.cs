using System.Diagnostics;
using System.Globalization;
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
    /// <summary>
    /// The engine's full package version, prerelease part included (<c>0.1.0-eco1</c>), part of every
    /// cache key, container and <c>[GeneratedCode]</c> attribute. The assembly version cannot serve:
    /// it drops the prerelease, so two prereleases of one version shared cache entries.
    /// </summary>
    public static string EngineVersion { get; } = VersionOf(typeof(Compressor).Assembly);

    internal static string VersionOf(System.Reflection.Assembly assembly) =>
        System.Reflection.CustomAttributeExtensions.GetCustomAttribute<System.Reflection.AssemblyInformationalVersionAttribute>(assembly)?.InformationalVersion is { Length: > 0 } informational
            // SourceLink appends "+<commit>": build metadata, which must not split the cache between two packs of one version.
            ? informational.Split('+')[0]
            : assembly.GetName().Version?.ToString(3) ?? "0.0.0";

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
        var scorer = Scorer.Create(inputs.OriginalOnnx(), validation, settings.Metric, displayPath: modelPath);
        var classifier = scorer.Choice.IsClassifier;
        var baselineScore = scorer.Baseline.Average();
        var target = settings.TargetAccuracy ?? baselineScore - settings.MaxAccuracyDrop / 100.0;

        var chain = new ChainBuilder(inputs.Model, settings, inputs.TrainingPreprocess.ToString(), validation, progress);
        var evaluator = new CandidateEvaluator(chain, scorer,
            (m, chosen) => inputs.Metadata(m, chosen, new AccuracyFigures(Round(baselineScore), 0, null), classifier), settings, progress);
        var search = Search(evaluator, settings, baselineScore, target);
        var best = search.Best;
        // The steps after the search are rows of the stage table too, so it ends on the model written.
        var stages = search.Stages.ToList();
        StageSummary Row(string method, Candidate c, int evaluations) =>
            new(method, target, Describe(c, evaluator), evaluations, c.Accuracy, c.Bound, c.Bytes);
        // Percentile calibration clips outliers; it is tried only when MinMax misses, as it rarely helps otherwise.
        if (best.Bound < target && best.Point.Bits is not null && settings.Calibration is null)
        {
            var percentile = evaluator.Evaluate(best.Point, "calibration", CalibrationMethod.Percentile);
            stages.Add(Row("calibration", percentile, 1));
            if (percentile.Bound > best.Bound) best = percentile;
        }
        if (best.Bound < target)
        {
            // The contract: the best model found (the highest bound; of equal bounds the smallest), scored on every image. A
            // candidate stopped early is estimated from its first images: once completed it may rank below another.
            while (evaluator.Evaluated.OrderByDescending(c => c.Bound).ThenBy(c => c.Bytes).First() is var leader && leader.StoppedBelow is not null)
                evaluator.Complete(leader);
            best = evaluator.Evaluated.OrderByDescending(c => c.Bound).ThenBy(c => c.Bytes).First();
            stages.Add(Row("best found", best, 0));
        }

        double? baselineTest = null, finalTest = null;
        var measure = MetricChoice.Name(scorer.Choice.Metric);
        var testMeasure = measure;
        // What the app will run: the container decoded, as every candidate was scored.
        var compressedOnnx = ContainerPackaging.ToOnnx(best.Container);
        var compressed = OnnxImport.ToModel(Onnx.OnnxModelFile.Parse(compressedOnnx));
        var originalOnnx = inputs.OriginalOnnx(); // for the test scores and the latency: not held through the search
        if (inputs.Test is { } test)
        {
            Report(progress, "test");
            // The test split is scored like validation, but never feeds a decision.
            var metric = scorer.Choice.Metric == Metric.Accuracy && !test.HasLabels ? Metric.Agreement : scorer.Choice.Metric;
            testMeasure = MetricChoice.Name(metric);
            var testScorer = Scorer.Create(originalOnnx, test, metric, displayPath: testDataPath);
            (baselineTest, finalTest) = (testScorer.Baseline.Average(), testScorer.Score(compressedOnnx).Average());
        }
        var chosen = evaluator.Chosen(best.Point, best.Calibration, best.Slimming);
        var finalContainer = ContainerPackaging.Pack(compressed, inputs.Metadata(compressed, chosen,
            new AccuracyFigures(Round(baselineScore), Round(best.Accuracy), finalTest is { } t ? Round(t) : null, measure, finalTest is null ? null : testMeasure), classifier));
        // Candidates were sized with placeholder accuracy figures in their metadata: the rows of the one written take its real size.
        var written = finalContainer.LongLength;
        stages = stages.Select(s => s.Bytes == best.Bytes && s.Accuracy == best.Accuracy ? s with { Bytes = written } : s).ToList();
        Report(progress, "latency");
        var latency = LatencyComparison.Measure(originalOnnx, compressedOnnx, validation.Subset(Enumerable.Range(0, Math.Min(validation.Count, 64)).ToArray()));

        var (shownBound, shownTarget) = TargetFigures.Shown(best.Bound, target, 6);
        var report = new CompressionReport
        {
            Model = modelPath,
            Data = dataPath,
            TestData = testDataPath,
            OriginalBytes = inputs.SourceLength,
            Measure = measure,
            TestMeasure = testMeasure,
            MeasureReason = scorer.Choice.Reason,
            Confidence = settings.Confidence,
            BaselineAccuracy = baselineScore,
            TargetAccuracy = shownTarget,
            FinalAccuracy = best.Accuracy,
            FinalAccuracyBound = shownBound,
            FinalStandardError = Math.Round(best.Score.StandardError, 6),
            FinalScoreP5 = Math.Round(best.Score.P5, 6),
            BaselineScoreP5 = Math.Round(Evaluator.Percentile(scorer.Baseline, 0.05), 6),
            BaselineTestAccuracy = baselineTest,
            TestAccuracy = finalTest,
            TargetMet = best.Bound >= target,
            Search = settings.Search.ToString().ToLowerInvariant(),
            Resolution = settings.Search == SearchKind.Fixed ? null : settings.Resolution,
            Evaluations = evaluator.Evaluated.Count,
            Seconds = Math.Round(Stopwatch.GetElapsedTime(started).TotalSeconds, 2),
            LatencyMsOriginal = Math.Round(latency.OriginalMs, 4),
            LatencyMsCompressed = Math.Round(latency.CompressedMs, 4),
            LatencySpeedup = Math.Round(latency.Speedup, 3),
            LatencyRounds = latency.Rounds,
            LatencyThreads = latency.Threads,
            LatencyThreadsOriginal = latency.OriginalThreads,
            LatencyThreadsCompressed = latency.CompressedThreads,
            Cpu = CpuInfo.Describe,
            ParametersOriginal = inputs.Model.Graph.ParameterCount,
            ParametersCompressed = Inspection.ModelSummary.NonzeroWeights(compressed),
            Settings = settings.Canonical(),
            Chosen = new SortedDictionary<string, string>(chosen.ToDictionary(kv => kv.Key, kv => kv.Value), StringComparer.Ordinal),
            Stages = stages,
            Candidates = evaluator.Evaluated.Select(c => new CandidateResult($"{c.Stage}: {Describe(c, evaluator)}",
                ReferenceEquals(c, best) ? written : c.Bytes, c.Accuracy, c.Stage, c.Point.Bits, c.Point.NsRatio, c.Point.DcRatio, ReferenceEquals(c, best), Math.Round(c.Bound, 6),
                c.StoppedBelow is null ? null : c.Images)).ToList(),
            FineTuning = settings.FineTunes ? chain.FineTuning : null,
            Warnings = [.. inputs.Warnings, .. Warnings(settings, scorer.Choice.Metric, validation.Count, best.Score), .. AtChance(scorer.Choice.Metric, baselineScore, LabelRange.ClassCount(inputs.Model), inputs.Labels), .. chain.FineTuningWarnings],
            PerClass = scorer.Choice.Metric == Metric.Accuracy && validation.Labels is { } truth
                ? ClassAccuracy.From(truth, scorer.Baseline, best.PerImage, inputs.Labels)
                : [],
            Channels = best.Slimming is { } slimmed && slimmed.ChannelsAfter < slimmed.ChannelsBefore
                ? slimmed.KeptPerLayer.Select(kv => new LayerChannels(kv.Key, kv.Value.Kept, kv.Value.Of, slimmed.Criterion)).ToList()
                : [],
        }.For(finalContainer, inputs.Model);
        return new CompressionResult(finalContainer, report);
    }

    // Two standard errors of the paired difference against the budget: beyond it, passing on these
    // images says little about new ones, and the guard spends the budget on noise. The standard
    // error is the chosen candidate's, but never less than that of a top-1 candidate that spends
    // the whole budget D by losing D x n images, sqrt(D (1 - D) / n): a search that kept every
    // prediction because it could afford no flip still has too few images. The fixed search is no
    // exception: it still checks its one candidate against the budget (MBT1401 when it misses), and
    // that check is as coarse. Only an absolute target (TargetAccuracy) has no budget to measure.
    static IReadOnlyList<ReportWarning> Warnings(CompressionSettings settings, Metric metric, int images, GuardedScore chosen)
    {
        var budget = settings.MaxAccuracyDrop / 100;
        var floor = metric == Metric.Cosine ? 0 : Math.Sqrt(budget * (1 - budget) / Math.Max(1, images));
        var noise = 2 * Math.Max(chosen.StandardError, floor) * 100;
        return settings.TargetAccuracy is null && noise > settings.MaxAccuracyDrop
            ? [new(ErrorCodes.NoisyValidation, $"{images} validation images measure the drop to +-{noise:0.0#} points (two standard errors of the per-image difference), more than the {settings.MaxAccuracyDrop:0.##}-point budget; the drop on new data may exceed it: use more validation images")]
            : [];
    }

    // A classifier scores about one in its class count on labels that are not its classes (a feature model's 96 outputs read
    // as 96 classes, say): its budget then keeps nothing, and a target near or below zero is met by any model.
    static IEnumerable<ReportWarning> AtChance(Metric metric, double baseline, long? classes, IReadOnlyList<string>? names)
    {
        if (metric != Metric.Accuracy || classes is not { } count || count < 2 || baseline > 1.0 / count) yield break;
        var named = names is { Count: > 0 } n && n.Count != count ? $"; the model names {n.Count} classes for its {count} outputs" : "";
        yield return new ReportWarning(ErrorCodes.BaselineAtChance,
            $"the original model scores {Percent(baseline)} on the validation labels, no better than chance (1 in {count}): the labels are likely not the model's classes, or its output not class scores{named}; check the data and --metric");
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
                return new SearchResult(candidate, [new StageSummary("fixed", target, Describe(candidate, evaluator), 1, candidate.Accuracy, candidate.Bound, candidate.Bytes)]);
        }
    }

    /// <summary>A container of the original fp32 model (same metadata, no compression), embedded instead when the target is missed and that is allowed.</summary>
    public static CompressionResult Uncompressed(string modelPath, CompressionResult compressed)
    {
        var report = compressed.Report;
        var none = new SortedDictionary<string, string>(StringComparer.Ordinal) { ["methods"] = "none", ["reason"] = "accuracy target not met" };
        var packed = ContainerPackaging.Read(compressed.Container).Metadata;
        var metadata = packed with
        {
            Compression = none,
            Accuracy = packed.Accuracy with { Final = Round(report.BaselineAccuracy), Test = report.BaselineTestAccuracy is { } t ? Round(t) : null },
        };
        var model = ModelFile.Load(modelPath);
        var container = ContainerPackaging.Pack(model, metadata);
        // The figures describe the model written (the original, against itself); the stages and candidates keep what was tried.
        var written = report with
        {
            OriginalEmbedded = true,
            FinalAccuracy = report.BaselineAccuracy,
            FinalAccuracyBound = report.BaselineAccuracy,
            FinalStandardError = 0,
            FinalScoreP5 = report.BaselineScoreP5,
            TestAccuracy = report.BaselineTestAccuracy,
            LatencyMsCompressed = report.LatencyMsOriginal,
            LatencySpeedup = 1,
            LatencyThreadsCompressed = report.LatencyThreadsOriginal,
            ParametersCompressed = Inspection.ModelSummary.NonzeroWeights(model),
            Chosen = none,
            PerClass = report.PerClass.Select(c => c with { CompressedCorrect = c.OriginalCorrect }).ToList(),
            Channels = [],
            Candidates = report.Candidates.Select(c => c with { Chosen = false }).ToList(), // none was written
            Warnings = [.. report.Warnings, new(ErrorCodes.TargetNotMet,
                $"no compressed model meets the {report.Measure} target (the best reaches {Percent(report.FinalAccuracy)}, lower bound {Percent(report.FinalAccuracyBound)}, target {Percent(report.TargetAccuracy)}); the original model was written instead")],
        };
        return new CompressionResult(container, written.For(container, model));
    }

    static double Round(double value) => Math.Round(value, 6);

    // A slimming ratio that removed no channel is named with what it did, as the stage table names it.
    static string Describe(Candidate c, CandidateEvaluator evaluator) =>
        $"{c.Point}{(evaluator.SlimmedNothing(c.Slimming) ? " (ns removed no channel)" : "")}{(c.Calibration == CalibrationMethod.MinMax ? "" : " " + c.Calibration.ToString().ToLowerInvariant())}";

    static string Percent(double fraction) => (fraction * 100).ToString("0.00", CultureInfo.InvariantCulture) + "%";

    static void Report(IProgress<ProgressUpdate>? progress, string stage) =>
        progress?.Report(new ProgressUpdate(stage, 0, 1, "steps"));
}

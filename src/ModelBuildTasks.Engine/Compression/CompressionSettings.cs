using System.Globalization;
using ModelBuildTasks.Passes.Pruning;
using ModelBuildTasks.Passes.Quantization;

namespace ModelBuildTasks.Compression;

/// <summary>
/// Everything that decides the compressed result, shared by the CLI and the MSBuild task. Its
/// <see cref="Canonical"/> text is part of the cache key, so two settings that mean the same give
/// the same key.
/// </summary>
public sealed record CompressionSettings
{
    /// <summary>How the knobs are chosen: the margin search (default), the brute-force grid, or the fixed <see cref="Bits"/>, <see cref="NsRatio"/>, <see cref="DcRatio"/>.</summary>
    public SearchKind Search { get; init; } = SearchKind.Margin;
    /// <summary>Step of the NS and DC ratios the searches consider (the grid's resolution).</summary>
    public double Resolution { get; init; } = 0.05;
    /// <summary>The margin search's evaluation budget: once it is spent, each stage left still gets one evaluation, and a final choice that misses the target one more (Percentile calibration), so a budget below the number of stages is exceeded by those.</summary>
    public int MaxEvaluations { get; init; } = 40;
    /// <summary>
    /// The fewest weight bits any layer gets. The searches try one grid for the whole model from <see
    /// cref="PortableGrid.MaxBits"/> (7, the widest that gives the same predictions on every CPU) down to this or <see
    /// cref="Search.SearchSpace.NarrowestUniformBits"/> (4), whichever is wider; the margin search then narrows single
    /// layers down to this (per-layer precision, docs/method.md).
    /// </summary>
    public int MinBits { get; init; } = Passes.Quantization.LayerNarrowing.MinBits;
    /// <summary>The searches remove at most this fraction of channels.</summary>
    public double MaxNsRatio { get; init; } = 0.9;
    /// <summary>The searches prune at most this fraction of weights.</summary>
    public double MaxDcRatio { get; init; } = 0.95;
    /// <summary>The methods to apply, in the paper's order: <c>iq</c> (integer quantization), <c>ns</c> (network slimming: channel pruning by BatchNorm scales), <c>dc</c> (deep compression: pruning and weight sharing on iq's integer grid).</summary>
    public IReadOnlyList<string> Methods { get; init; } = DefaultMethods;
    /// <summary>With <see cref="SearchKind.Fixed"/>: weight bits for IQ (7 down to 4).</summary>
    public int Bits { get; init; } = PortableGrid.MaxBits;
    /// <summary>How weights are rounded and pruned without fine-tuning (with it, training has already put them on the grid).</summary>
    public RoundingMethod Rounding { get; init; } = RoundingMethod.Compensated;
    /// <summary>Activation calibration for IQ; null tries MinMax, then Percentile if the target is missed.</summary>
    public CalibrationMethod? Calibration { get; init; }
    /// <summary>How a candidate is scored against the original model; null chooses from the model's output and the data (<see cref="Evaluation.MetricChoice"/>).</summary>
    public Evaluation.Metric? Metric { get; init; }
    /// <summary>
    /// The one-sided confidence with which a candidate must keep the target: pass/fail is decided
    /// on the lower confidence bound of the paired per-image difference to the original model, not
    /// on the point estimate. 0.5 decides on the point estimate alone. Default 0.9.
    /// </summary>
    public double Confidence { get; init; } = 0.9;
    /// <summary>The allowed drop from the baseline, in percentage points (default 1); for the cosine metric, hundredths of similarity (1 = 0.99 of the original).</summary>
    public double MaxAccuracyDrop { get; init; } = 1.0;
    /// <summary>An absolute target accuracy in [0, 1]; overrides <see cref="MaxAccuracyDrop"/>.</summary>
    public double? TargetAccuracy { get; init; }
    /// <summary>The preprocessing spec; null uses the model's own (metadata <c>preprocess</c>) or the default.</summary>
    public string? Preprocess { get; init; }
    /// <summary>Class names; null uses the model's metadata <c>labels</c>, or the dataset's class folders.</summary>
    public IReadOnlyList<string>? Labels { get; init; }
    /// <summary>With <see cref="SearchKind.Fixed"/>: network slimming's fraction of prunable channels removed.</summary>
    public double NsRatio { get; init; } = 0.3;
    /// <summary>With <see cref="SearchKind.Fixed"/>: deep compression's fraction of Conv/Gemm/MatMul weights pruned by magnitude.</summary>
    public double DcRatio { get; init; } = 0.5;
    /// <summary>Deep compression: one magnitude threshold over all layers (default; layers of small weights, such as wide fully connected ones, lose more) or the same fraction of every layer.</summary>
    public PruningScope PruningScope { get; init; } = PruningScope.Global;
    /// <summary>Deep compression: shared weight levels per layer (0 = no sharing).</summary>
    public int SharedLevels { get; init; } = 16;
    /// <summary>Fine-tuning epochs after each pruning step (0 = post-training only). Needs <see cref="TrainData"/> and the training add-on.</summary>
    public int FineTuneEpochs { get; init; }
    /// <summary>Fine-tuning budget in seconds per step (alone, or capping <see cref="FineTuneEpochs"/>).</summary>
    public double? FineTuneSeconds { get; init; }
    /// <summary>Whether pruning steps are fine-tuned.</summary>
    public bool FineTunes => FineTuneEpochs > 0 || FineTuneSeconds > 0;
    /// <summary>Labelled training DATASET for fine-tuning.</summary>
    public string? TrainData { get; init; }
    /// <summary>Initial learning rate of fine-tuning (cosine decay).</summary>
    public double FineTuneLearningRate { get; init; } = 1e-3;
    /// <summary>Network slimming's sparsity weight during fine-tuning; null picks 1e-4 for plain nets, 1e-5 for residual/dense ones.</summary>
    public double? L1Gamma { get; init; }
    /// <summary>At most this many validation images are used (0 = all).</summary>
    public int MaxValidationImages { get; init; }

    /// <summary>The paper's chain, the default: IQ, then NS, then DC.</summary>
    public static readonly IReadOnlyList<string> DefaultMethods = ["iq", "ns", "dc"];

    /// <summary>The methods understood today.</summary>
    public static readonly IReadOnlyList<string> KnownMethods = ["iq", "ns", "dc"];

    /// <summary>Parses a method list such as <c>IQ;NS</c> or <c>iq,ns</c>.</summary>
    public static IReadOnlyList<string> ParseMethods(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return DefaultMethods;
        var methods = text.Split([',', ';', ' '], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(m => m.ToLowerInvariant()).ToList();
        foreach (var m in methods)
            if (!KnownMethods.Contains(m))
                throw new ModelBuildException(ErrorCodes.InvalidSetting, $"unknown compression method '{m}' (available: {string.Join(", ", KnownMethods)})");
        if (methods.Count == 0) throw new ModelBuildException(ErrorCodes.InvalidSetting, $"the method list '{text}' names no method (available: {string.Join(", ", KnownMethods)})");
        if (methods.Distinct().Count() != methods.Count) throw new ModelBuildException(ErrorCodes.InvalidSetting, "a compression method is listed twice");
        if (methods.Contains("dc") && !methods.Contains("iq"))
            throw new ModelBuildException(ErrorCodes.InvalidSetting, "dc shares weights on iq's integer grid: list iq too (for example --methods iq,dc; MSBuild: Methods=\"IQ;DC\")");
        return methods;
    }

    /// <summary>
    /// Checks ranges; throws <see cref="ErrorCodes.InvalidSetting"/> on the first problem, naming the CLI option (a build
    /// names the item metadata instead: CompressModels maps the one to the other).
    /// </summary>
    public void Validate()
    {
        if (Bits < 4 || Bits > PortableGrid.MaxBits) throw new ModelBuildException(ErrorCodes.InvalidSetting, $"--bits must be 4 to {PortableGrid.MaxBits}, not {Bits}{WhyNotEight(Bits)}");
        if (MaxAccuracyDrop is < 0 or > 100 || double.IsNaN(MaxAccuracyDrop)) throw new ModelBuildException(ErrorCodes.InvalidSetting, $"--max-accuracy-drop must be 0 to 100 points, not {MaxAccuracyDrop}");
        if (NsRatio is < 0 or >= 1 || double.IsNaN(NsRatio)) throw new ModelBuildException(ErrorCodes.InvalidSetting, $"--ns-ratio must be in [0, 1), not {NsRatio}");
        if (DcRatio is < 0 or >= 1 || double.IsNaN(DcRatio)) throw new ModelBuildException(ErrorCodes.InvalidSetting, $"--dc-ratio must be in [0, 1), not {DcRatio}");
        if (SharedLevels is < 0 or > 255) throw new ModelBuildException(ErrorCodes.InvalidSetting, $"--shared-levels must be 0 (none) to 255, not {SharedLevels}");
        if (FineTuneEpochs < 0) throw new ModelBuildException(ErrorCodes.InvalidSetting, "--fine-tune-epochs must be 0 or more");
        if (FineTuneSeconds is <= 0 || double.IsNaN(FineTuneSeconds ?? 0)) throw new ModelBuildException(ErrorCodes.InvalidSetting, "--fine-tune-seconds must be more than 0");
        if (FineTunes && string.IsNullOrEmpty(TrainData)) throw new ModelBuildException(ErrorCodes.InvalidSetting, "fine-tuning needs training data (--train-data, or the TrainData metadata)");
        if (FineTuneLearningRate is <= 0 or > 1) throw new ModelBuildException(ErrorCodes.InvalidSetting, $"--fine-tune-lr must be in (0, 1], not {FineTuneLearningRate}");
        if (L1Gamma is < 0) throw new ModelBuildException(ErrorCodes.InvalidSetting, "--l1-gamma (the L1 weight on BatchNorm scales) must be 0 or more");
        // Ratios are kept to six decimals, so a finer step only multiplies the grid (1e-9 made billions of points).
        if (Resolution is < 0.001 or > 0.5 || double.IsNaN(Resolution)) throw new ModelBuildException(ErrorCodes.InvalidSetting, $"--resolution must be in [0.001, 0.5], not {Resolution}");
        if (MaxValidationImages < 0) throw new ModelBuildException(ErrorCodes.InvalidSetting, $"--max-validation-images must be 0 (all) or more, not {MaxValidationImages}");
        if (Labels is { } labels && (labels.Count == 0 || labels.Any(string.IsNullOrWhiteSpace))) throw new ModelBuildException(ErrorCodes.InvalidSetting, "--labels has an empty class name");
        if (MaxEvaluations < 1) throw new ModelBuildException(ErrorCodes.InvalidSetting, "--max-evaluations must be at least 1");
        if (MinBits < Passes.Quantization.LayerNarrowing.MinBits || MinBits > PortableGrid.MaxBits) throw new ModelBuildException(ErrorCodes.InvalidSetting, $"--min-bits must be {Passes.Quantization.LayerNarrowing.MinBits} to {PortableGrid.MaxBits}, not {MinBits}{WhyNotEight(MinBits)}");
        if (Confidence is < 0.5 or >= 1 || double.IsNaN(Confidence)) throw new ModelBuildException(ErrorCodes.InvalidSetting, $"--confidence must be in [0.5, 1), not {Confidence}");
        if (MaxNsRatio is < 0 or >= 1 || double.IsNaN(MaxNsRatio)) throw new ModelBuildException(ErrorCodes.InvalidSetting, $"--max-ns-ratio must be in [0, 1), not {MaxNsRatio}");
        if (MaxDcRatio is < 0 or >= 1 || double.IsNaN(MaxDcRatio)) throw new ModelBuildException(ErrorCodes.InvalidSetting, $"--max-dc-ratio must be in [0, 1), not {MaxDcRatio}");
        if (TargetAccuracy is < 0 or > 1) throw new ModelBuildException(ErrorCodes.InvalidSetting, $"--target-accuracy must be a fraction in [0, 1], not {TargetAccuracy}");
    }

    static string WhyNotEight(int bits) => bits == 8
        ? " (8-bit weights overflow the 16-bit pair sums of ONNX Runtime's kernels on AVX2 CPUs without VNNI, so the model would predict differently there; 7 bits are exact on every CPU)"
        : "";

    /// <summary>A stable text of every setting, for cache keys and reports.</summary>
    public string Canonical()
    {
        static string F(double v) => v.ToString("R", CultureInfo.InvariantCulture);
        var fixedKnobs = Search == SearchKind.Fixed;
        return string.Join(";",
            "methods=" + string.Join(",", Methods),
            "search=" + Search.ToString().ToLowerInvariant(),
            "space=" + (fixedKnobs ? "" : $"bits>={MinBits},ns<={F(MaxNsRatio)},dc<={F(MaxDcRatio)},step={F(Resolution)},budget={(Search == SearchKind.Margin ? MaxEvaluations : 0)}"),
            "bits=" + (fixedKnobs && Methods.Contains("iq") ? Bits.ToString(CultureInfo.InvariantCulture) : ""),
            "calibration=" + (Calibration?.ToString().ToLowerInvariant() ?? "auto"),
            "rounding=" + Rounding.ToString().ToLowerInvariant(),
            "metric=" + (Metric?.ToString().ToLowerInvariant() ?? "auto"),
            "confidence=" + F(Confidence),
            "max_drop=" + F(MaxAccuracyDrop),
            "target=" + (TargetAccuracy is { } t ? F(t) : ""),
            "preprocess=" + (Preprocess ?? ""),
            "labels=" + (Labels is null ? "" : string.Join("|", Labels)),
            "max_validation=" + MaxValidationImages.ToString(CultureInfo.InvariantCulture),
            "ns_ratio=" + (fixedKnobs && Methods.Contains("ns") ? F(NsRatio) : ""),
            "dc_ratio=" + (fixedKnobs && Methods.Contains("dc") ? F(DcRatio) : ""),
            "dc_scope=" + (Methods.Contains("dc") ? PruningScope.ToString().ToLowerInvariant() : ""),
            "shared_levels=" + (Methods.Contains("dc") ? SharedLevels.ToString(CultureInfo.InvariantCulture) : ""),
            "fine_tune=" + (FineTunes ? $"{FineTuneEpochs}e/{(FineTuneSeconds is { } sec ? F(sec) : "")}s@{F(FineTuneLearningRate)}/l1={(L1Gamma is { } l1 ? F(l1) : "auto")}" : ""));
    }
}

using System.Globalization;
using ModelBuildTasks.Passes.Quantization;

namespace ModelBuildTasks.Compression;

/// <summary>
/// Everything that decides the compressed result, shared by the CLI and the MSBuild task. Its
/// <see cref="Canonical"/> text is part of the cache key, so two settings that mean the same give
/// the same key.
/// </summary>
public sealed record CompressionSettings
{
    /// <summary>The methods to apply, in the paper's order: <c>iq</c> (integer quantization), <c>ns</c> (network slimming: channel pruning by BatchNorm scales), <c>dc</c> (deep compression: pruning and weight sharing on iq's integer grid).</summary>
    public IReadOnlyList<string> Methods { get; init; } = ["iq"];
    /// <summary>Weight bits for IQ (8 down to 4).</summary>
    public int Bits { get; init; } = 8;
    /// <summary>Activation calibration for IQ; null tries MinMax, then Percentile if the target is missed.</summary>
    public CalibrationMethod? Calibration { get; init; }
    /// <summary>The allowed drop from the baseline, in percentage points (default 1).</summary>
    public double MaxAccuracyDrop { get; init; } = 1.0;
    /// <summary>An absolute target accuracy in [0, 1]; overrides <see cref="MaxAccuracyDrop"/>.</summary>
    public double? TargetAccuracy { get; init; }
    /// <summary>The preprocessing spec; null uses the model's own (metadata <c>preprocess</c>) or the default.</summary>
    public string? Preprocess { get; init; }
    /// <summary>Class names; null uses the model's metadata <c>labels</c>, or the dataset's class folders.</summary>
    public IReadOnlyList<string>? Labels { get; init; }
    /// <summary>Network slimming: the fraction of prunable channels removed.</summary>
    public double NsRatio { get; init; } = 0.3;
    /// <summary>Deep compression: the fraction of Conv/Gemm/MatMul weights pruned by magnitude.</summary>
    public double DcRatio { get; init; } = 0.5;
    /// <summary>Deep compression: shared weight levels per layer (0 = no sharing).</summary>
    public int SharedLevels { get; init; } = 16;
    /// <summary>Fine-tuning epochs after each pruning step (0 = post-training only). Needs <see cref="TrainData"/> and the training add-on.</summary>
    public int FineTuneEpochs { get; init; }
    /// <summary>Labelled training DATASET for fine-tuning.</summary>
    public string? TrainData { get; init; }
    /// <summary>Initial learning rate of fine-tuning (cosine decay).</summary>
    public double FineTuneLearningRate { get; init; } = 1e-3;
    /// <summary>Network slimming's sparsity weight during fine-tuning; null picks 1e-4 for plain nets, 1e-5 for residual/dense ones.</summary>
    public double? L1Gamma { get; init; }
    /// <summary>At most this many validation images are used (0 = all).</summary>
    public int MaxValidationImages { get; init; }

    /// <summary>The methods understood today.</summary>
    public static readonly IReadOnlyList<string> KnownMethods = ["iq", "ns", "dc"];

    /// <summary>Parses a method list such as <c>IQ;NS</c> or <c>iq,ns</c>.</summary>
    public static IReadOnlyList<string> ParseMethods(string? text)
    {
        var methods = (text ?? "iq").Split([',', ';', ' '], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(m => m.ToLowerInvariant()).ToList();
        foreach (var m in methods)
            if (!KnownMethods.Contains(m))
                throw new ModelBuildException(ErrorCodes.InvalidSetting, $"unknown compression method '{m}' (available: {string.Join(", ", KnownMethods)})");
        if (methods.Count == 0) return ["iq"];
        if (methods.Distinct().Count() != methods.Count) throw new ModelBuildException(ErrorCodes.InvalidSetting, "a compression method is listed twice");
        if (methods.Contains("dc") && !methods.Contains("iq"))
            throw new ModelBuildException(ErrorCodes.InvalidSetting, "dc shares weights on iq's integer grid: list iq too (for example IQ;DC)");
        return methods;
    }

    /// <summary>Checks ranges; throws <see cref="ErrorCodes.InvalidSetting"/> on the first problem.</summary>
    public void Validate()
    {
        if (Bits is < 4 or > 8) throw new ModelBuildException(ErrorCodes.InvalidSetting, $"bits must be 4 to 8, not {Bits}");
        if (MaxAccuracyDrop is < 0 or > 100 || double.IsNaN(MaxAccuracyDrop)) throw new ModelBuildException(ErrorCodes.InvalidSetting, $"the maximum accuracy drop must be 0 to 100 points, not {MaxAccuracyDrop}");
        if (NsRatio is < 0 or >= 1 || double.IsNaN(NsRatio)) throw new ModelBuildException(ErrorCodes.InvalidSetting, $"the ns ratio must be in [0, 1), not {NsRatio}");
        if (DcRatio is < 0 or >= 1 || double.IsNaN(DcRatio)) throw new ModelBuildException(ErrorCodes.InvalidSetting, $"the dc ratio must be in [0, 1), not {DcRatio}");
        if (SharedLevels is < 0 or > 255) throw new ModelBuildException(ErrorCodes.InvalidSetting, $"shared levels must be 0 (none) to 255, not {SharedLevels}");
        if (FineTuneEpochs < 0) throw new ModelBuildException(ErrorCodes.InvalidSetting, "fine-tune epochs must be 0 or more");
        if (FineTuneEpochs > 0 && string.IsNullOrEmpty(TrainData)) throw new ModelBuildException(ErrorCodes.InvalidSetting, "fine-tuning needs training data (--train-data, or the TrainData metadata)");
        if (FineTuneLearningRate is <= 0 or > 1) throw new ModelBuildException(ErrorCodes.InvalidSetting, $"the fine-tuning learning rate must be in (0, 1], not {FineTuneLearningRate}");
        if (L1Gamma is < 0) throw new ModelBuildException(ErrorCodes.InvalidSetting, "the L1 weight on BatchNorm scales must be 0 or more");
        if (TargetAccuracy is < 0 or > 1) throw new ModelBuildException(ErrorCodes.InvalidSetting, $"the target accuracy must be a fraction in [0, 1], not {TargetAccuracy}");
    }

    /// <summary>A stable text of every setting, for cache keys and reports.</summary>
    public string Canonical() => string.Join(";",
        "methods=" + string.Join(",", Methods),
        "bits=" + Bits.ToString(CultureInfo.InvariantCulture),
        "calibration=" + (Calibration?.ToString().ToLowerInvariant() ?? "auto"),
        "max_drop=" + MaxAccuracyDrop.ToString("R", CultureInfo.InvariantCulture),
        "target=" + (TargetAccuracy?.ToString("R", CultureInfo.InvariantCulture) ?? ""),
        "preprocess=" + (Preprocess ?? ""),
        "labels=" + (Labels is null ? "" : string.Join("|", Labels)),
        "max_validation=" + MaxValidationImages.ToString(CultureInfo.InvariantCulture),
        "ns_ratio=" + (Methods.Contains("ns") ? NsRatio.ToString("R", CultureInfo.InvariantCulture) : ""),
        "dc_ratio=" + (Methods.Contains("dc") ? DcRatio.ToString("R", CultureInfo.InvariantCulture) : ""),
        "shared_levels=" + (Methods.Contains("dc") ? SharedLevels.ToString(CultureInfo.InvariantCulture) : ""),
        "fine_tune=" + (FineTuneEpochs > 0 ? $"{FineTuneEpochs}@{FineTuneLearningRate.ToString("R", CultureInfo.InvariantCulture)}/l1={L1Gamma?.ToString("R", CultureInfo.InvariantCulture) ?? "auto"}" : ""));
}

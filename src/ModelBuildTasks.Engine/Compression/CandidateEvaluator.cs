using System.Diagnostics;
using ModelBuildTasks.Container;
using ModelBuildTasks.Data;
using ModelBuildTasks.Evaluation;
using ModelBuildTasks.Graph;
using ModelBuildTasks.Packaging;
using ModelBuildTasks.Passes.Quantization;
using ModelBuildTasks.Passes.Slimming;
using ModelBuildTasks.Progress;

namespace ModelBuildTasks.Compression;

/// <summary>One evaluated point: the container the app would embed and its validation accuracy.</summary>
/// <param name="Point">The knobs.</param>
/// <param name="Calibration">IQ's activation calibration.</param>
/// <param name="Stage">Which search stage asked for it (<c>iq</c>, <c>ns</c>, <c>dc</c>, <c>grid</c>, <c>fixed</c>, ...).</param>
/// <param name="Container">The container bytes. The exported model is what they decode to; it is not kept beside them (at ResNet-18's size, copies for every candidate add up to hundreds of MB over a search).</param>
/// <param name="Score">Validation score of the decoded container, with its lower confidence bound.</param>
/// <param name="Slimming">What NS removed, if it ran.</param>
public sealed record Candidate(ChainPoint Point, CalibrationMethod Calibration, string Stage, byte[] Container, GuardedScore Score, SlimmingReport? Slimming)
{
    /// <summary>Container bytes.</summary>
    public long Bytes => Container.Length;

    /// <summary>The measured validation score (accuracy, agreement or mean cosine).</summary>
    public double Accuracy => Score.Mean;

    /// <summary>The score the contract is decided on: its one-sided lower confidence bound.</summary>
    public double Bound => Score.Bound;

    /// <summary>The per-image scores behind <see cref="Score"/>, in the order of the validation images (the report's per-class table); empty when <see cref="StoppedBelow"/>.</summary>
    public IReadOnlyList<double> PerImage { get; init; } = [];

    /// <summary>Validation images scored: all of them, unless the evaluation stopped early.</summary>
    public int Images { get; init; }

    /// <summary>When the evaluation stopped early, clearly below this threshold (<see cref="Scorer.ScoreUntilClearlyBelow"/>); <see cref="Score"/> is then on <see cref="Images"/> images.</summary>
    public double? StoppedBelow { get; init; }
}

/// <summary>
/// Turns a point into a candidate: builds the chain, exports it, packs the container and measures
/// what the app will run (the container, decoded) on the validation data, image by image against
/// the original model, so the contract can be decided on a paired confidence bound. Each point is
/// evaluated once per run; every evaluation is recorded, in order, for the report's search path.
/// </summary>
public sealed class CandidateEvaluator(ChainBuilder chain, Scorer scorer,
    Func<OnnxModel, IReadOnlyDictionary<string, string>, ContainerMetadata> metadata, CompressionSettings settings, IProgress<ProgressUpdate>? progress = null)
{
    readonly ImageDataset validation = scorer.Data;
    readonly Dictionary<(ChainPoint, CalibrationMethod), Candidate> done = [];
    readonly List<Candidate> evaluated = [];

    /// <summary>Every candidate evaluated, in order.</summary>
    public IReadOnlyList<Candidate> Evaluated => evaluated;

    /// <summary>The chain the candidates are built with.</summary>
    public ChainBuilder Chain => chain;

    /// <summary>The calibration used unless another is asked for.</summary>
    public CalibrationMethod DefaultCalibration => settings.Calibration ?? CalibrationMethod.MinMax;

    /// <summary>Evaluates <paramref name="point"/> (or returns the earlier result for it).</summary>
    /// <param name="point">The knobs.</param>
    /// <param name="stage">The search stage asking, for the report.</param>
    /// <param name="calibration">IQ's calibration, if not the default.</param>
    /// <param name="failBelow">The threshold the caller compares the bound with: the evaluation may stop
    /// early once the candidate is clearly below it. Null scores every image.</param>
    public Candidate Evaluate(ChainPoint point, string stage, CalibrationMethod? calibration = null, double? failBelow = null)
    {
        var method = calibration ?? DefaultCalibration;
        if (done.TryGetValue((point, method), out var known))
        {
            // Stopped against a threshold at least as high as this one: it is clearly below this one too.
            if (known.StoppedBelow is not { } stopped || failBelow >= stopped) return known;
            var complete = Measured(known, null);
            done[(point, method)] = complete;
            evaluated[evaluated.IndexOf(known)] = complete;
            return complete;
        }
        var planned = Math.Max(Planned, evaluated.Count + 1);
        progress?.Report(new ProgressUpdate(stage, evaluated.Count, planned, "candidates")
        {
            Detail = point.ToString(),
            Accuracy = evaluated.Count > 0 ? evaluated[^1].Accuracy : null,
            TotalIsEstimate = settings.Search != SearchKind.Grid,
        });
        var clock = Stopwatch.StartNew();
        // Compensated rounding starts from the slimmed float model and does IQ's rounding and DC's
        // pruning itself, so that each one's error is spread over the weights that remain. After
        // fine-tuning the weights already sit on the grid with their zeros: nothing is left to compensate.
        var compensate = point.Bits is not null && settings.Rounding == RoundingMethod.Compensated && !settings.FineTunes;
        var built = chain.Build(compensate ? point with { Bits = null, DcRatio = null } : point);
        var tBuild = clock.Elapsed.TotalSeconds;
        var exported = point.Bits is { } bits
            ? QdqQuantizer.Quantize(built.Model, validation, new QuantizationOptions
            {
                Bits = bits,
                Calibration = method,
                SharedLevels = point.SharedLevels,
                ErrorCompensation = compensate,
                PruneRatio = compensate ? point.DcRatio ?? 0 : 0,
                PruningScope = settings.PruningScope,
                KeepFloat = chain.KeptFloat(point.FloatLayers),
                LayerBits = chain.LayerBits(point),
            }, compensate ? chain.Hessians(point.NsRatio, built.Model) : null).Model
            : built.Model;
        var tQuant = clock.Elapsed.TotalSeconds;
        var container = ContainerPackaging.Pack(exported, metadata(exported, Chosen(point, method)));
        var tPack = clock.Elapsed.TotalSeconds;
        var candidate = Measured(new Candidate(point, method, stage, container, new GuardedScore(0, 0, 0, 0), built.Slimming), failBelow);
        if (Environment.GetEnvironmentVariable("MBT_PROFILE") == "1")
            Console.Error.WriteLine($"profile {point}: build {tBuild:0.00} quantize {tQuant - tBuild:0.00} pack {tPack - tQuant:0.00} evaluate {clock.Elapsed.TotalSeconds - tPack:0.00} ({candidate.Images} images)");
        done[(point, method)] = candidate;
        evaluated.Add(candidate);
        return candidate;
    }

    /// <summary>Returns <paramref name="candidate"/> scored on every validation image (itself when it already is).</summary>
    public Candidate Complete(Candidate candidate) =>
        candidate.StoppedBelow is null ? candidate : Evaluate(candidate.Point, candidate.Stage, candidate.Calibration);

    // Scores the candidate's container (decoded, as the app runs it) against the original, image by image.
    Candidate Measured(Candidate candidate, double? failBelow)
    {
        var onnx = ContainerPackaging.ToOnnx(candidate.Container);
        var display = "candidate " + candidate.Point;
        var (images, scores) = failBelow is { } threshold
            ? scorer.ScoreUntilClearlyBelow(onnx, threshold, display)
            : (Enumerable.Range(0, validation.Count).ToArray(), scorer.Score(onnx, displayPath: display));
        var stopped = images.Length < validation.Count;
        var score = PairedBound.Of(scores, images.Select(i => scorer.Baseline[i]).ToList(), settings.Confidence, stopped ? scorer.Baseline.Average() : null);
        return candidate with { Score = score, PerImage = stopped ? [] : scores, Images = images.Length, StoppedBelow = stopped ? failBelow : null };
    }

    /// <summary>
    /// About how many candidates the search evaluates, for progress and time left: the grid's size;
    /// for the margin search, a bracketing search per knob (about log2 of its values, plus the
    /// first guess and the confirmation; IQ's per-layer precision a few more), capped by the budget; one for fixed knobs.
    /// </summary>
    public int Planned => planned ??= settings.Search switch
    {
        SearchKind.Grid => Search.SearchSpace.From(settings).Grid(settings.Methods).Count(),
        SearchKind.Margin => Math.Min(settings.MaxEvaluations, settings.Methods.Sum(m =>
            (int)Math.Ceiling(Math.Log2(Search.SearchSpace.From(settings).Count(m) + 1)) + (m == "dc" ? 2 : 1) + (m == "iq" ? 3 : 0))),
        _ => 1,
    };

    int? planned;

    /// <summary>
    /// Whether <paramref name="slimming"/> removed no channel from a model that is not fine-tuned: the model is then the
    /// one the stage started from, and slimming is not named as applied (in the chosen settings nor in the stage table).
    /// </summary>
    public bool SlimmedNothing(SlimmingReport? slimming) => !settings.FineTunes && slimming is { } s && s.ChannelsAfter == s.ChannelsBefore;

    /// <summary>What the container records as chosen for <paramref name="point"/>.</summary>
    /// <param name="point">The chosen point.</param>
    /// <param name="calibration">Its calibration.</param>
    /// <param name="slimming">What its network slimming removed, if it ran: a ratio that removed no channel (each layer
    /// keeps a minimum, and channels a residual or output pins) left the model as it was, and is not named as applied.</param>
    public IReadOnlyDictionary<string, string> Chosen(ChainPoint point, CalibrationMethod calibration, SlimmingReport? slimming = null)
    {
        var slimmedNothing = SlimmedNothing(slimming);
        // The methods that changed the model, in the order asked for: a ratio that removed or pruned nothing is not one.
        var applied = settings.Methods.Where(m => m switch
        {
            "iq" => point.Bits is not null,
            "ns" => point.NsRatio > 0 && !slimmedNothing,
            "dc" => point.DcRatio > 0 || point.SharedLevels > 0,
            _ => true,
        }).ToList();
        var chosen = new SortedDictionary<string, string>(StringComparer.Ordinal) { ["methods"] = applied.Count > 0 ? string.Join(",", applied) : "none" };
        foreach (var (k, v) in point.Knobs())
            if (!(slimmedNothing && k == "ns_ratio")) chosen[k] = v;
        if (point.FloatLayers > 0) chosen["float_layer_weights"] = NameList.Join(chain.KeptFloat(point.FloatLayers).Order(StringComparer.Ordinal));
        if (point.NarrowSteps > 0) chosen["layer_bits"] = NameList.Join(chain.LayerBits(point).Select(kv => LayerNarrowing.Entry(kv.Key, kv.Value)));
        if (point.Bits is not null)
        {
            chosen["calibration"] = calibration.ToString().ToLowerInvariant();
            chosen["rounding"] = (settings.FineTunes ? RoundingMethod.Nearest : settings.Rounding).ToString().ToLowerInvariant();
        }
        if (settings.FineTunes)
        {
            chosen["fine_tune"] = settings.FineTuneEpochs > 0 ? $"{settings.FineTuneEpochs} epoch{(settings.FineTuneEpochs == 1 ? "" : "s")}" : "";
            if (settings.FineTuneSeconds is { } budget) chosen["fine_tune"] = (chosen["fine_tune"] + $" {budget.ToString(System.Globalization.CultureInfo.InvariantCulture)} s").Trim();
            if (point.NsRatio > 0 && chain.TrainsSparsity) chosen["l1_gamma"] = chain.L1Gamma.ToString("G2", System.Globalization.CultureInfo.InvariantCulture);
        }
        return chosen;
    }
}

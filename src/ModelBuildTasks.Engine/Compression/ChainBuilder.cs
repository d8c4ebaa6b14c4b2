using ModelBuildTasks.FineTuning;
using ModelBuildTasks.Graph;
using ModelBuildTasks.Passes.Pruning;
using ModelBuildTasks.Passes.Quantization;
using ModelBuildTasks.Passes.Slimming;
using ModelBuildTasks.Progress;

namespace ModelBuildTasks.Compression;

/// <summary>A float model with the chain applied, before the final integer export.</summary>
/// <param name="Model">The model (BatchNorms still in; weights on the IQ grid if IQ came before a pruning step).</param>
/// <param name="Slimming">What NS removed, when it ran.</param>
public sealed record ChainModel(OnnxModel Model, SlimmingReport? Slimming);

/// <summary>Fine-tuning done so far in one compression.</summary>
/// <param name="Runs">Fine-tuning runs (sparsity training included).</param>
/// <param name="Seconds">Their training seconds.</param>
/// <param name="Threads">libtorch threads they used.</param>
public sealed record FineTuneSummary(int Runs, double Seconds, int Threads);

/// <summary>
/// Applies the methods to the float model in the order asked for, each step seeing the previous
/// one's result, so that the order can be measured:
/// <list type="bullet">
/// <item><c>iq</c> snaps the weights onto its integer grid (<see cref="FakeQuantization"/>); every
/// later step that fine-tunes trains through that grid (quantization-aware) and snaps back;</item>
/// <item><c>ns</c> (with fine-tuning: sparsity training first) removes channels, then fine-tunes;</item>
/// <item><c>dc</c> prunes weights by their folded magnitude, then fine-tunes with zeros held; a fine-tuned
/// candidate starts from the sparsest one already trained below it (iterative pruning).</item>
/// </list>
/// Export to QDQ (with DC's weight sharing on the grid) is the last step, whatever the order.
/// Intermediate models are memoised by the prefix of steps that made them, so a search pays for
/// sparsity training once and the grid reuses slimmed models.
/// </summary>
/// <param name="source">The float model.</param>
/// <param name="settings">Methods and their settings.</param>
/// <param name="preprocess">The preprocessing, for the training tool.</param>
/// <param name="calibration">Images on which NS measures its channels (<see cref="NetworkSlimming.Measure"/>): their ranking, and what removed ones carried, for their consumers' biases; and on which error compensation measures H (<see cref="Hessians"/>).</param>
/// <param name="progress">Receives fine-tuning stages.</param>
public sealed class ChainBuilder(OnnxModel source, CompressionSettings settings, string preprocess, Data.ImageDataset? calibration = null, IProgress<ProgressUpdate>? progress = null)
{
    readonly Dictionary<string, ChainModel> trained = new(StringComparer.Ordinal); // costly: kept for the whole run
    readonly Dictionary<string, ChainModel> recent = new(StringComparer.Ordinal); // cheap: a few, for the grid's inner loop
    readonly Queue<string> recentOrder = new();
    readonly Dictionary<string, SortedList<double, ChainModel>> dcByPrefix = new(StringComparer.Ordinal);
    readonly Dictionary<string, Dictionary<string, ChannelMoments>> momentsByStart = new(StringComparer.Ordinal);
    // Eight for the grid's inner loop; two of a large model's copies (60 MB each at ResNet-18's size) serve the margin search.
    readonly int recentLimit = source.Graph.ParameterCount > 2_000_000 ? 2 : 8;
    readonly double l1 = settings.L1Gamma ?? FineTuner.DefaultL1Gamma(source);
    int runs, threads;
    double seconds;

    /// <summary>The sparsity weight used before slimming.</summary>
    public double L1Gamma => l1;

    /// <summary>
    /// Whether slimming trains for sparsity first and ranks channels by their BatchNorm scales (fine-tuning, the paper's
    /// method). A model without BatchNorm (folded at export) has no scales to drive to zero: its channels are ranked as
    /// post-training ranks them, by what they carry, and fine-tuning follows.
    /// </summary>
    public bool TrainsSparsity => settings.FineTunes && source.Graph.Nodes.Any(n => n.OpType == "BatchNormalization");

    /// <summary>What the training add-on warned of (class names that differ from the model's, steps skipped), each once: for the report.</summary>
    public IReadOnlyList<ReportWarning> FineTuningWarnings => addOnWarnings;

    readonly List<ReportWarning> addOnWarnings = [];

    // The add-on's stderr, line by line: its warnings ("warning MBTnnnn: ..." or "warning: ...") go into the report.
    void AddOnWarning(string line)
    {
        var at = line.IndexOf("warning", StringComparison.Ordinal);
        if (at < 0) return;
        var text = line[at..];
        var coded = System.Text.RegularExpressions.Regex.Match(text, @"^warning (?<code>MBT\d{4}): (?<message>.*)$");
        var warning = coded.Success
            ? new ReportWarning(coded.Groups["code"].Value, "fine-tuning: " + coded.Groups["message"].Value)
            : text.StartsWith("warning: ", StringComparison.Ordinal) ? new ReportWarning(ErrorCodes.FineTuningWarning, "fine-tuning: " + text["warning: ".Length..]) : null;
        if (warning is not null && !addOnWarnings.Contains(warning)) addOnWarnings.Add(warning);
    }

    /// <summary>Fine-tuning done so far.</summary>
    public FineTuneSummary FineTuning => new(runs, Math.Round(seconds, 1), threads);

    /// <summary>The float model for <paramref name="point"/>.</summary>
    public ChainModel Build(ChainPoint point)
    {
        var current = new ChainModel(source, null);
        var key = "";
        int? grid = null; // bits of the IQ grid once IQ has run
        var pruned = false;
        var keepFloat = KeptFloat(point.FloatLayers);
        var layerBits = LayerBits(point);
        foreach (var method in settings.Methods)
        {
            switch (method)
            {
                case "iq" when point.Bits is { } bits:
                    grid = bits;
                    current = Step(ref key, $"iq{bits}f{point.FloatLayers}n{point.NarrowSteps}", current, false, m => { FakeQuantization.Apply(m.Model.Graph, bits, keepFloat, layerBits); return m; });
                    break;
                case "ns" when point.NsRatio > 0:
                    var start = current;
                    var byScale = TrainsSparsity; // else ranked by what the channels carry, as post-training ranks them
                    if (byScale)
                        start = Step(ref key, "l1", current, true, m => m with { Model = Tune(m.Model, $"ns: sparsity training (l1 {l1:G2})", keepZeros: pruned, grid, layerBits, keepFloat, l1) });
                    var keep = pruned;
                    var startKey = key;
                    current = Step(ref key, "ns" + ChainPoint.Ratio(point.NsRatio), start, settings.FineTunes, m =>
                    {
                        // After sparsity training, the paper's |gamma| ranking, and fine-tuning takes over what removed channels
                        // carried; the measured ranking and its regression are what post-training has instead.
                        var moments = calibration is null || byScale ? null : Moments(startKey, m.Model, calibration);
                        var report = NetworkSlimming.Apply(m.Model, point.NsRatio, moments);
                        var model = settings.FineTunes ? Snap(Tune(m.Model, $"ns {ChainPoint.Ratio(point.NsRatio)}: fine-tuning", keep, grid, layerBits, keepFloat), grid, keepFloat, layerBits) : m.Model;
                        return new ChainModel(model, report);
                    });
                    break;
                case "dc" when point.DcRatio is > 0:
                    var ratio = point.DcRatio.Value;
                    var prefix = key;
                    // Fine-tuned, a candidate starts from the sparsest one already trained below it on the same chain: Han et
                    // al.'s iterative pruning, each round taking away a little more from a network that has recovered. Pruning
                    // is monotone (zeros score lowest), so what that start pruned stays pruned. Without training the start
                    // changes nothing, so post-training always prunes the chain's model.
                    var below = settings.FineTunes ? SparsestBelow(prefix, ratio) : null;
                    var what = $"dc {ChainPoint.Ratio(ratio)}: fine-tuning" + (below is { } b ? $" from dc {ChainPoint.Ratio(b.Ratio)}" : "");
                    current = Step(ref key, "dc" + ChainPoint.Ratio(ratio), below?.Model ?? current, settings.FineTunes, m =>
                    {
                        MagnitudePruning.ApplyAsFolded(m.Model, ratio, settings.PruningScope);
                        return settings.FineTunes ? m with { Model = Snap(Tune(m.Model, what, keepZeros: true, grid, layerBits, keepFloat), grid, keepFloat, layerBits) } : m;
                    });
                    if (settings.FineTunes) TrainedSparsities(prefix)[ratio] = current;
                    pruned = true;
                    break;
            }
        }
        return current;
    }

    /// <summary>The quantizable layers' weight names, the costliest to quantize first (measured once, on the float model at the widest grid).</summary>
    public IReadOnlyList<string> SensitiveLayers => sensitive ??= calibration is null
        ? throw new InvalidOperationException("ranking layers needs calibration images")
        : LayerSensitivity.Rank(source, calibration, PortableGrid.MaxBits);

    IReadOnlyList<string>? sensitive;

    /// <summary>The weights of the <paramref name="count"/> costliest layers, which IQ leaves float.</summary>
    public IReadOnlySet<string> KeptFloat(int count) =>
        count <= 0 ? new HashSet<string>(StringComparer.Ordinal) : SensitiveLayers.Take(count).ToHashSet(StringComparer.Ordinal);

    /// <summary>
    /// The order in which layers give up bits below the uniform <paramref name="bits"/>-bit grid (<see
    /// cref="LayerNarrowing"/>), from costs measured once per grid on the float model.
    /// </summary>
    public IReadOnlyList<LayerNarrowing.Step> NarrowingOrder(int bits)
    {
        if (narrowing.TryGetValue(bits, out var order)) return order;
        if (calibration is null) throw new InvalidOperationException("ordering layers needs calibration images");
        if (bits <= settings.MinBits) return narrowing[bits] = [];
        var compensated = settings.Rounding == RoundingMethod.Compensated && !settings.FineTunes; // as CandidateEvaluator rounds
        // The source is the chain's model at NS ratio 0 before IQ: the H (and its factors) compensated IQ candidates use.
        var costs = LayerNarrowing.Costs(QdqQuantizer.Folded(source).Model, Hessians(0, source), bits, compensated, settings.MinBits);
        return narrowing[bits] = LayerNarrowing.Order(costs, bits, settings.MinBits);
    }

    readonly Dictionary<int, IReadOnlyList<LayerNarrowing.Step>> narrowing = [];

    /// <summary>
    /// The H blocks of error compensation for <paramref name="slimmed"/>, the chain's float model at NS ratio
    /// <paramref name="nsRatio"/>. H depends only on that model: measured once per ratio on the calibration images, with
    /// the inverse factors compensation derives from them. The most recent sets are kept while they fit in
    /// <see cref="HessianBytesKept"/> together (the latest always): the search comes back to ratios it measured (the
    /// reserves go back to slimming after DC), and a 224x224 model's sets are large enough that it keeps only the latest.
    /// </summary>
    public LayerHessians Hessians(double nsRatio, OnnxModel slimmed)
    {
        var known = hessians.FindIndex(k => k.NsRatio == nsRatio);
        if (known >= 0)
        {
            var hit = hessians[known];
            hessians.RemoveAt(known);
            hessians.Insert(0, hit);
            return hit.H;
        }
        if (calibration is null) throw new InvalidOperationException("error compensation needs calibration images");
        var h = QdqQuantizer.MeasureHessians(QdqQuantizer.Folded(slimmed).Model, calibration);
        hessians.Insert(0, (nsRatio, h));
        var bytes = 0L;
        for (var i = 0; i < hessians.Count; i++)
        {
            bytes += hessians[i].H.Bytes;
            if (i > 0 && bytes > HessianBytesKept) { hessians.RemoveRange(i, hessians.Count - i); break; }
        }
        return h;
    }

    /// <summary>How much memory the H sets of earlier NS ratios may take together (see <see cref="Hessians"/>).</summary>
    const long HessianBytesKept = 64L << 20;

    readonly List<(double NsRatio, LayerHessians H)> hessians = []; // most recent first

    /// <summary>The layers <paramref name="point"/> gives a narrower grid than its bits, with their bits.</summary>
    public IReadOnlyDictionary<string, int> LayerBits(ChainPoint point) =>
        point is { Bits: { } bits, NarrowSteps: > 0 } ? LayerNarrowing.After(NarrowingOrder(bits), point.NarrowSteps) : new Dictionary<string, int>();

    // The fine-tuned DC models of one chain prefix, by ratio.
    SortedList<double, ChainModel> TrainedSparsities(string prefix)
    {
        if (!dcByPrefix.TryGetValue(prefix, out var models)) dcByPrefix[prefix] = models = [];
        return models;
    }

    (double Ratio, ChainModel Model)? SparsestBelow(string prefix, double ratio)
    {
        var below = TrainedSparsities(prefix).LastOrDefault(kv => kv.Key < ratio);
        return below.Value is null ? null : (below.Key, below.Value);
    }

    // One memoised step: `apply` gets a private copy of the input.
    ChainModel Step(ref string key, string step, ChainModel input, bool costly, Func<ChainModel, ChainModel> apply)
    {
        key += "|" + step;
        if (trained.TryGetValue(key, out var hit) || recent.TryGetValue(key, out hit)) return hit;
        var result = apply(input with { Model = Copy(input.Model) });
        if (costly) trained[key] = result;
        else
        {
            recent[key] = result;
            recentOrder.Enqueue(key);
            if (recentOrder.Count > recentLimit) recent.Remove(recentOrder.Dequeue());
        }
        return result;
    }

    // The channel moments NS ranks by depend only on the model it starts from: measured once per start.
    Dictionary<string, ChannelMoments> Moments(string startKey, OnnxModel model, Data.ImageDataset images)
    {
        if (!momentsByStart.TryGetValue(startKey, out var measured)) momentsByStart[startKey] = measured = NetworkSlimming.Measure(model, images);
        return measured;
    }

    // With IQ earlier in the chain (grid set), fine-tuning trains through IQ's grid (quantization-aware).
    // The layers IQ keeps float train without its grid, as they ship.
    OnnxModel Tune(OnnxModel model, string what, bool keepZeros, int? grid, IReadOnlyDictionary<string, int> layerBits, IReadOnlySet<string> keepFloat, double sparsity = 0)
    {
        var budget = settings.FineTuneEpochs > 0 ? $"{settings.FineTuneEpochs} epoch{(settings.FineTuneEpochs == 1 ? "" : "s")}" : $"{settings.FineTuneSeconds:0} s";
        progress?.Report(new ProgressUpdate($"{what} ({budget})", 0, 1, "steps"));
        var outcome = FineTuner.Run(model, new FineTuneRun(settings.TrainData!, settings.FineTuneEpochs, settings.FineTuneSeconds, preprocess,
            settings.FineTuneLearningRate, keepZeros, sparsity, FakeQuantBits: grid, LayerBits: grid is null ? null : layerBits, FloatLayers: grid is null ? null : keepFloat), AddOnWarning);
        runs++;
        seconds += outcome.Seconds;
        threads = Math.Max(threads, outcome.Threads);
        return outcome.Model;
    }

    static OnnxModel Snap(OnnxModel model, int? bits, IReadOnlySet<string> keepFloat, IReadOnlyDictionary<string, int> layerBits)
    {
        if (bits is { } b) FakeQuantization.Apply(model.Graph, b, keepFloat, layerBits);
        return model;
    }

    static OnnxModel Copy(OnnxModel model) => OnnxImport.ToModel(OnnxExport.ToProto(model));
}

using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace ModelBuildTasks.Compression;

/// <summary>
/// The figures of one compression, as written to <c>report.json</c>, printed by <c>--json</c> and
/// kept in the cache beside the container. Accuracies are fractions in [0, 1].
/// </summary>
public sealed record CompressionReport
{
    /// <summary>The model compressed.</summary>
    public string Model { get; init; } = "";
    /// <summary>The validation data.</summary>
    public string Data { get; init; } = "";
    /// <summary>The held-out test data, if any.</summary>
    public string? TestData { get; init; }
    /// <summary>Bytes of the original ONNX file.</summary>
    public long OriginalBytes { get; init; }
    /// <summary>Bytes of the container.</summary>
    public long CompressedBytes { get; init; }
    /// <summary>original / compressed.</summary>
    public double Ratio { get; init; }
    /// <summary>The metric every accuracy figure is in: <c>accuracy</c> (top-1 against labels), <c>agreement</c> (top-1 with the original model) or <c>cosine</c> (mean cosine similarity of the outputs to the original's).</summary>
    public string Measure { get; init; } = "accuracy";
    /// <summary>Why that metric: asked for, or what the automatic choice saw.</summary>
    public string MeasureReason { get; init; } = "";
    /// <summary>The one-sided confidence of the contract's bound (0.5: the point estimate alone).</summary>
    public double Confidence { get; init; }
    /// <summary>Original model, validation data.</summary>
    public double BaselineAccuracy { get; init; }
    /// <summary>What the compressed model had to reach on validation data.</summary>
    public double TargetAccuracy { get; init; }
    /// <summary>Compressed model (decoded container), validation data.</summary>
    public double FinalAccuracy { get; init; }
    /// <summary>The lower confidence bound of <see cref="FinalAccuracy"/> from the paired per-image difference to the original; the target is met when this is at or above it.</summary>
    public double FinalAccuracyBound { get; init; }
    /// <summary>Standard error of the mean paired per-image difference, validation data.</summary>
    public double FinalStandardError { get; init; }
    /// <summary>The 5th percentile of the compressed model's per-image scores (for cosine: the least similar images).</summary>
    public double FinalScoreP5 { get; init; }
    /// <summary>The 5th percentile of the original model's per-image scores: the written model's when the original is embedded.</summary>
    public double BaselineScoreP5 { get; init; }
    /// <summary>Original model, test data.</summary>
    public double? BaselineTestAccuracy { get; init; }
    /// <summary>Compressed model, test data.</summary>
    public double? TestAccuracy { get; init; }
    /// <summary>What the test figures measure: <see cref="Measure"/>, or <c>agreement</c> with the original when the metric is accuracy and the test images have no labels.</summary>
    public string TestMeasure { get; init; } = "accuracy";
    /// <summary>Whether the target was met.</summary>
    public bool TargetMet { get; init; }
    /// <summary>
    /// The target was missed and the original model was written instead (<c>--allow-miss</c>, <c>ModelCompressionAllowAccuracyMiss</c>):
    /// the figures describe that model, and the search's stages and candidates what was tried.
    /// </summary>
    public bool OriginalEmbedded { get; init; }
    /// <summary>How the knobs were chosen: <c>margin</c>, <c>grid</c> or <c>fixed</c>.</summary>
    public string Search { get; init; } = "fixed";
    /// <summary>Step of the NS/DC ratios the search considered (null for fixed knobs).</summary>
    public double? Resolution { get; init; }
    /// <summary>Candidates evaluated.</summary>
    public int Evaluations { get; init; }
    /// <summary>Seconds the compression took (when it ran; a cache hit keeps the original figure).</summary>
    public double Seconds { get; init; }
    /// <summary>Median single-image latency of the original model (ms), measured alternating with the compressed model.</summary>
    public double LatencyMsOriginal { get; init; }
    /// <summary>Median single-image latency of the compressed model (ms), measured alternating with the original.</summary>
    public double LatencyMsCompressed { get; init; }
    /// <summary>original / compressed median latency (below 1: the compressed model is slower).</summary>
    public double LatencySpeedup { get; init; }
    /// <summary>Alternating rounds behind the latency medians.</summary>
    public int LatencyRounds { get; init; }
    /// <summary>ONNX Runtime intra-op threads of the latency runs.</summary>
    public int LatencyThreads { get; init; }
    /// <summary>Threads the original model's single images ran on: one or <see cref="LatencyThreads"/>, whichever it ran faster on, as the shipped runtime chooses (0 in reports from before this was recorded).</summary>
    public int LatencyThreadsOriginal { get; init; }
    /// <summary>Threads the compressed model's single images ran on, chosen the same way.</summary>
    public int LatencyThreadsCompressed { get; init; }
    /// <summary>The CPU the figures were measured on: model and the instruction sets ONNX Runtime's integer kernels depend on.</summary>
    public string Cpu { get; init; } = "";
    /// <summary>The report's first line: whether the target is met, in the metric's name, and what was written.</summary>
    public string Headline() => OriginalEmbedded
        ? $"No compressed model meets the {Measure} target: the original model was written instead."
        : TargetMet ? $"The compressed model meets the {Measure} target." : $"The compressed model does not meet the {Measure} target.";

    /// <summary>The size change as every report line words it (also in the JSON, for the MSBuild log): "34.38x smaller", or how much larger a model with nothing to compress came out.</summary>
    public string SizeChange => CompressedBytes <= OriginalBytes
        ? ((double)OriginalBytes / Math.Max(1, CompressedBytes)).ToString("0.00", CultureInfo.InvariantCulture) + "x smaller"
        : ((double)CompressedBytes / Math.Max(1, OriginalBytes)).ToString("0.00", CultureInfo.InvariantCulture) + "x LARGER: the model had little to compress, and the container's metadata outweighs it";

    /// <summary>How the latency was measured: rounds, threads, CPU.</summary>
    public string DescribeLatency() =>
        $"{LatencyRounds} alternating rounds, " + (LatencyThreads > 1 && LatencyThreadsOriginal > 0 && LatencyThreadsCompressed > 0
            ? $"single images on {LatencyThreadsOriginal} (original) and {LatencyThreadsCompressed} (compressed) of {LatencyThreads} threads, whichever of one and {LatencyThreads} each ran faster"
            : $"{LatencyThreads} thread{(LatencyThreads == 1 ? "" : "s")}") + $", on {Cpu}";

    /// <summary>Float parameters of the original model.</summary>
    public long ParametersOriginal { get; init; }
    /// <summary>Nonzero weights of the compressed model.</summary>
    public long ParametersCompressed { get; init; }
    /// <summary>The settings asked for, canonical text.</summary>
    public string Settings { get; init; } = "";
    /// <summary>What was chosen (methods, bits, calibration).</summary>
    public IReadOnlyDictionary<string, string> Chosen { get; init; } = new SortedDictionary<string, string>();
    /// <summary>One row per search stage.</summary>
    public IReadOnlyList<Search.StageSummary> Stages { get; init; } = [];
    /// <summary>Every candidate tried, in order (the search path).</summary>
    public IReadOnlyList<CandidateResult> Candidates { get; init; } = [];
    /// <summary>Fine-tuning runs, seconds and threads, when fine-tuning was on.</summary>
    public FineTuneSummary? FineTuning { get; init; }
    /// <summary>Channels kept per layer by NS (empty when NS removed nothing).</summary>
    public IReadOnlyList<LayerChannels> Channels { get; init; } = [];
    /// <summary>Bytes per weight tensor, before and after.</summary>
    public IReadOnlyList<LayerBytes> Layers { get; init; } = [];
    /// <summary>How each tensor is stored in the container, against its entropy bound.</summary>
    public IReadOnlyList<Container.TensorStorage> Tensors { get; init; } = [];
    /// <summary>The engine version.</summary>
    public string EngineVersion { get; init; } = Compressor.EngineVersion;
    /// <summary>SHA-256 of the container this report describes.</summary>
    public string ContainerSha256 { get; init; } = "";
    /// <summary>Warnings for the user.</summary>
    public IReadOnlyList<ReportWarning> Warnings { get; init; } = [];
    /// <summary>Validation accuracy per class, original against compressed (empty unless the metric is accuracy).</summary>
    public IReadOnlyList<ClassAccuracy> PerClass { get; init; } = [];
    /// <summary>"hit" (local folder), "remote-hit" (the shared remote cache), "miss" or "off".</summary>
    public string Cache { get; init; } = "off";

    static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    /// <summary>This report describing <paramref name="container"/>, compressed from <paramref name="original"/> (its size, ratio, hash, tensors and bytes per layer).</summary>
    public CompressionReport For(byte[] container, Graph.OnnxModel original)
    {
        var storage = Storage(container);
        return this with
        {
            Tensors = storage,
            Layers = PerLayer(original, storage, Chosen),
            CompressedBytes = container.Length,
            Ratio = Math.Round((double)OriginalBytes / Math.Max(1, container.Length), 3),
            ContainerSha256 = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(container)),
        };
    }

    static IReadOnlyList<Container.TensorStorage> Storage(byte[] bytes)
    {
        var container = Container.ModelContainer.Read(bytes);
        return container.Tensors.Select((t, i) => new Container.TensorStorage(t.Name, t.Encoding, t.DecodedLength, t.StoredLength,
            Math.Round(Container.EntropyCoding.EntropyBound(container.DecodeTensor(i)), 1))).ToList();
    }

    // Each original weight against the container tensors derived from it (name, or name + "_suffix": quantized values, scales),
    // with the bits the chosen knobs gave it.
    static IReadOnlyList<LayerBytes> PerLayer(Graph.OnnxModel original, IReadOnlyList<Container.TensorStorage> stored, IReadOnlyDictionary<string, string> chosen)
    {
        int? bits = chosen.TryGetValue("bits", out var b) ? int.Parse(b, CultureInfo.InvariantCulture) : null;
        var narrower = chosen.TryGetValue("layer_bits", out var pairs)
            ? NameList.Split(pairs).Select(Passes.Quantization.LayerNarrowing.ParseEntry).OfType<(string Weights, int Bits)>().ToDictionary(p => p.Weights, p => p.Bits)
            : [];
        var kept = chosen.TryGetValue("float_layer_weights", out var names) ? NameList.Split(names).ToHashSet() : [];
        return Passes.Pruning.MagnitudePruning.PrunableWeights(original.Graph).Select(w => new LayerBytes(w.Name, w.ElementCount * 4,
            stored.Where(t => t.Name == w.Name || t.Name.StartsWith(w.Name + "_", StringComparison.Ordinal)).Sum(t => t.StoredBytes),
            kept.Contains(w.Name) ? null : narrower.TryGetValue(w.Name, out var own) ? own : bits)).ToList();
    }

    /// <summary>The JSON text.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Parses the JSON text; null when it is not a report.</summary>
    public static CompressionReport? Parse(string json)
    {
        try { return JsonSerializer.Deserialize<CompressionReport>(json, Json); }
        catch (JsonException) { return null; }
    }

    /// <summary>A Markdown page for people: the headline figures and every candidate.</summary>
    public string ToMarkdown()
    {
        static string P(double? v) => v is { } x ? (x * 100).ToString("0.00", CultureInfo.InvariantCulture) + "%" : "n/a";
        static string B(long b) => b.ToString("N0", CultureInfo.InvariantCulture);
        var s = new StringBuilder();
        s.Append("# Compression report: ").Append(MarkdownText.Escape(Path.GetFileName(Model))).Append("\n\n");
        s.Append(TargetMet ? Headline() + "\n\n" : $"**{Headline()}**\n\n");
        foreach (var warning in Warnings) s.Append($"> Warning {warning.Code}: {MarkdownText.Escape(warning.Message)}\n\n");
        s.Append("| | original | compressed |\n|---|---|---|\n");
        s.Append($"| size (bytes) | {B(OriginalBytes)} | {B(CompressedBytes)} ({SizeChange}) |\n");
        var (bound, target) = TargetFigures.Shown(FinalAccuracyBound, TargetAccuracy, 4);
        s.Append($"| validation {Measure} | {P(BaselineAccuracy)} | {P(FinalAccuracy)}, {P(Confidence)} lower bound {P(bound)} (target {P(target)}) |\n");
        s.Append($"| test {TestMeasure} | {P(BaselineTestAccuracy)} | {P(TestAccuracy)} |\n");
        s.Append($"| latency, median per image | {LatencyMsOriginal.ToString("0.000", CultureInfo.InvariantCulture)} ms | {LatencyMsCompressed.ToString("0.000", CultureInfo.InvariantCulture)} ms ({LatencySpeedup.ToString("0.00", CultureInfo.InvariantCulture)}x{(LatencySpeedup < 1 ? ", **slower**" : " faster")}) |\n\n");
        s.Append($"Metric: {Measure} ({MeasureReason}). Latency: {DescribeLatency()}.  \n");
        // Layer names and class names come from the model and the command line: escaped, as every other text from inputs.
        s.Append("Chosen: ").Append(string.Join(", ", Chosen.Select(kv => $"{MarkdownText.Escape(kv.Key)} = {MarkdownText.Escape(kv.Value)}"))).Append("  \n");
        s.Append($"Settings: {MarkdownText.Escape(Settings)}  \n");
        s.Append($"Evaluations: {Evaluations}, {Seconds.ToString("0.0", CultureInfo.InvariantCulture)} s, engine {EngineVersion}, cache {Cache}\n\n");
        if (PerClass.Count > 0)
        {
            s.Append("| class | images | original | compressed | change (points) |\n|---|---|---|---|---|\n");
            foreach (var c in PerClass)
                s.Append($"| {c.Class}{(c.Name.Length > 0 ? " " + MarkdownText.Escape(c.Name) : "")} | {c.Images} | {P(c.OriginalAccuracy)} | {P(c.CompressedAccuracy)} | {((c.CompressedAccuracy - c.OriginalAccuracy) * 100).ToString("+0.00;-0.00;0.00", CultureInfo.InvariantCulture)} |\n");
            s.Append('\n');
        }
        if (Stages.Count > 0)
        {
            s.Append($"| stage | target | chosen | evaluations | {Measure} | bound | bytes |\n|---|---|---|---|---|---|---|\n");
            foreach (var st in Stages)
                s.Append($"| {st.Method} | {P(st.Target)} | {MarkdownText.Escape(st.Chosen)} | {st.Evaluations} | {P(st.Accuracy)} | {P(st.Bound)} | {(st.Bytes > 0 ? B(st.Bytes) : "-")} |\n");
            s.Append('\n');
        }
        s.Append($"| candidate ({Search} search) | bytes | validation {Measure} | bound |\n|---|---|---|---|\n");
        foreach (var c in Candidates)
            s.Append($"| {MarkdownText.Escape(c.Description)}{(c.Chosen ? " **(chosen)**" : "")}{(c.StoppedAt is { } n ? $" (stopped after {n.ToString("N0", CultureInfo.InvariantCulture)} images: clearly below)" : "")} | {B(c.Bytes)} | {P(c.Accuracy)} | {P(c.Bound)} |\n");
        if (Channels.Any(c => c.Kept < c.Of))
        {
            s.Append("\n## Channels network slimming kept\n\n| layer | kept | of | ranked by |\n|---|---|---|---|\n");
            foreach (var c in Channels) s.Append($"| {MarkdownText.Escape(c.Layer)} | {c.Kept} | {c.Of} | {c.Criterion} |\n");
        }
        if (Tensors.Count > 0)
        {
            s.Append("\n## Where the bytes are (largest tensors)\n\n| tensor | encoding | raw bytes | stored bytes | entropy bound |\n|---|---|---|---|---|\n");
            foreach (var t in Tensors.OrderByDescending(t => t.StoredBytes).Take(20))
                s.Append($"| {MarkdownText.Escape(t.Name)} | {t.Encoding} | {B(t.DecodedBytes)} | {B(t.StoredBytes)} | {B((long)Math.Ceiling(t.EntropyBoundBytes))} |\n");
        }
        return s.ToString();
    }
}

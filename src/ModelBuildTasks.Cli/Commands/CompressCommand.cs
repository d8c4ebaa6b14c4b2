using System.CommandLine;
using System.Globalization;
using ModelBuildTasks.Codegen;
using ModelBuildTasks.Compression;
using ModelBuildTasks.Container;
using ModelBuildTasks.Passes.Pruning;
using ModelBuildTasks.Passes.Quantization;
using Spectre.Console;

namespace ModelBuildTasks.Cli.Commands;

/// <summary>
/// <c>compress MODEL --data DATASET -o OUT.cmodel</c>: the engine's main job, also what the MSBuild
/// task runs. Results are cached by content; <c>--wrapper</c> also writes the typed C# class.
/// </summary>
static class CompressCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("MODEL") { Description = "The fp32 ONNX model." };
        var data = new Option<string>("--data") { Description = "Validation DATASET (the accuracy target is checked on it).", Required = true };
        var testData = new Option<string?>("--test-data") { Description = "Held-out DATASET: reported, never used for decisions." };
        var drop = new Option<double>("--max-accuracy-drop") { Description = "Allowed drop in percentage points (cosine: hundredths of similarity).", DefaultValueFactory = _ => 1.0 };
        var metric = new Option<string>("--metric") { Description = "auto (default: accuracy for a classifier with labels, agreement without, cosine for other outputs), accuracy, agreement or cosine.", DefaultValueFactory = _ => "auto" };
        var confidence = new Option<double>("--confidence") { Description = "One-sided confidence that a candidate keeps the target, from the paired per-image difference (0.5: point estimate).", DefaultValueFactory = _ => 0.9 };
        var target = new Option<double?>("--target-accuracy") { Description = "Absolute target in [0, 1] (overrides --max-accuracy-drop)." };
        var methods = new Option<string>("--methods") { Description = "Methods in order: iq (integer quantization), ns (network slimming), dc (deep compression: pruning + weight sharing).", DefaultValueFactory = _ => "iq,ns,dc" };
        var search = new Option<string?>("--search") { Description = "margin (default: the margin search), grid (brute force over the same resolution) or fixed (--bits, --ns-ratio, --dc-ratio as given; implied by any of them)." };
        var resolution = new Option<double>("--resolution") { Description = "Step of the ns/dc ratios the search considers (0.001 to 0.5).", DefaultValueFactory = _ => 0.05 };
        var maxEvaluations = new Option<int>("--max-evaluations") { Description = "Evaluation budget of the margin search.", DefaultValueFactory = _ => 40 };
        var maxNs = new Option<double>("--max-ns-ratio") { Description = "The search removes at most this fraction of channels.", DefaultValueFactory = _ => 0.9 };
        var maxDc = new Option<double>("--max-dc-ratio") { Description = "The search prunes at most this fraction of weights.", DefaultValueFactory = _ => 0.95 };
        var minBits = new Option<int>("--min-bits") { Description = "The fewest weight bits any layer gets (2 to 7): the whole model is tried from 7 bits (the widest grid exact on every CPU) down to this or 4, then single layers down to this.", DefaultValueFactory = _ => LayerNarrowing.MinBits };
        var nsRatio = new Option<double>("--ns-ratio") { Description = "Fixed: fraction of channels ns removes.", DefaultValueFactory = _ => 0.3 };
        var dcRatio = new Option<double>("--dc-ratio") { Description = "Fixed: fraction of weights dc prunes by magnitude.", DefaultValueFactory = _ => 0.5 };
        var pruningScope = new Option<string>("--pruning-scope") { Description = "With dc: global (one threshold over all layers on layer-adaptive LAMP scores of the magnitudes) or layer (the same fraction of every layer).", DefaultValueFactory = _ => "global" };
        var sharedLevels = new Option<int>("--shared-levels") { Description = "With dc: weight levels shared per layer (0 = no sharing).", DefaultValueFactory = _ => 16 };
        var fineTuneEpochs = new Option<int>("--fine-tune-epochs") { Description = "Fine-tune after pruning (ns, dc) for N epochs with the training add-on (0 = post-training).", DefaultValueFactory = _ => 0 };
        var fineTuneSeconds = new Option<double?>("--fine-tune-seconds") { Description = "Fine-tuning budget in seconds per step (alone, or capping --fine-tune-epochs)." };
        var trainData = new Option<string?>("--train-data") { Description = "Labelled training DATASET for fine-tuning." };
        var fineTuneLr = new Option<double>("--fine-tune-lr") { Description = "Fine-tuning learning rate.", DefaultValueFactory = _ => 1e-3 };
        var l1Gamma = new Option<double?>("--l1-gamma") { Description = "Sparsity weight on BatchNorm scales before slimming (default 1e-4 plain, 1e-5 residual/dense)." };
        var bits = new Option<int>("--bits") { Description = "Fixed: weight bits for integer quantization (7 to 4).", DefaultValueFactory = _ => PortableGrid.MaxBits };
        var calibration = new Option<string>("--calibration") { Description = "auto, minmax or percentile.", DefaultValueFactory = _ => "auto" };
        var rounding = new Option<string>("--rounding") { Description = "Without fine-tuning: compensated (each weight's rounding and pruning error spread over the others, GPTQ-style) or nearest.", DefaultValueFactory = _ => "compensated" };
        var preprocess = new Option<string?>("--preprocess") { Description = "Preprocessing SPEC (default: the model's own, else scale 8-bit pixels to [0, 1])." };
        var labels = new Option<string?>("--labels") { Description = "Comma-separated class names (default: the model's metadata or the dataset's class folders)." };
        var maxImages = new Option<int>("--max-validation-images") { Description = "Use at most N validation images (0 = all).", DefaultValueFactory = _ => 0 };
        var output = new Option<string>("--output", "-o") { Description = "The .cmodel container to write.", Required = true, HelpName = "OUT.cmodel" };
        var report = new Option<string?>("--report") { Description = "Also write the report as this JSON file, with Markdown and HTML (charts) beside it." };
        var json = new Option<bool>("--json") { Description = "Write the report as one JSON object to stdout." };
        var cacheOptions = new CacheOptions();
        var allowMiss = new Option<bool>("--allow-miss") { Description = "If the target cannot be met, warn and write the original (uncompressed) model instead of failing." };
        var wrapper = new Option<string?>("--wrapper") { Description = "Also write the typed C# wrapper class to this file." };
        var className = new Option<string?>("--class-name") { Description = "Wrapper class name (default: from the model file name)." };
        var ns = new Option<string?>("--namespace") { Description = "Wrapper namespace.", DefaultValueFactory = _ => "CompressedModels" };
        var resource = new Option<string?>("--resource-name") { Description = "Manifest resource name the wrapper loads (default: the output file name)." };
        var check = new Option<bool>("--check") { Description = "Check the settings, that the model and data exist and that the outputs can be written, then stop (exit 0) without compressing." };
        var command = new Command("compress", "Compress a model within an accuracy budget into a .cmodel container.")
        {
            model, data, testData, drop, metric, confidence, target, methods, search, resolution, maxEvaluations, minBits, maxNs, maxDc, nsRatio, dcRatio, fineTuneEpochs, fineTuneSeconds, trainData, fineTuneLr, l1Gamma, pruningScope, sharedLevels, bits, calibration, rounding, preprocess, labels, maxImages, output, report, json,
            allowMiss, wrapper, className, ns, resource, check,
        };
        cacheOptions.AddTo(command);
        command.SetAction(result => ExitCodes.Guard(() =>
        {
            var modelPath = result.GetValue(model)!;
            var dataPath = result.GetValue(data)!;
            var testPath = result.GetValue(testData);
            var outputPath = result.GetValue(output)!;
            var knobsGiven = new Option[] { bits, nsRatio, dcRatio }.Where(o => result.GetResult(o) is { Implicit: false }).Select(o => o.Name).ToList();
            var searchKind = result.GetValue(search)?.ToLowerInvariant() switch
            {
                null => knobsGiven.Count > 0 ? SearchKind.Fixed : SearchKind.Margin,
                "margin" => SearchKind.Margin,
                "grid" => SearchKind.Grid,
                "fixed" => SearchKind.Fixed,
                var other => throw new ModelBuildException(ErrorCodes.InvalidSetting, $"--search must be margin, grid or fixed, not '{other}'"),
            };
            if (searchKind != SearchKind.Fixed && knobsGiven.Count > 0)
                throw new ModelBuildException(ErrorCodes.InvalidSetting, $"{string.Join(", ", knobsGiven)} fix a knob, but --search {searchKind.ToString().ToLowerInvariant()} chooses them: drop them or use --search fixed");
            var settings = new CompressionSettings
            {
                Methods = CompressionSettings.ParseMethods(result.GetValue(methods)),
                Search = searchKind,
                Resolution = result.GetValue(resolution),
                MaxEvaluations = result.GetValue(maxEvaluations),
                MinBits = result.GetValue(minBits),
                MaxNsRatio = result.GetValue(maxNs),
                MaxDcRatio = result.GetValue(maxDc),
                FineTuneSeconds = result.GetValue(fineTuneSeconds),
                Bits = result.GetValue(bits),
                NsRatio = result.GetValue(nsRatio),
                FineTuneEpochs = result.GetValue(fineTuneEpochs),
                TrainData = result.GetValue(trainData),
                FineTuneLearningRate = result.GetValue(fineTuneLr),
                L1Gamma = result.GetValue(l1Gamma),
                DcRatio = result.GetValue(dcRatio),
                SharedLevels = result.GetValue(sharedLevels),
                PruningScope = result.GetValue(pruningScope)!.ToLowerInvariant() switch
                {
                    "global" => PruningScope.Global,
                    "layer" => PruningScope.PerLayer,
                    var other => throw new ModelBuildException(ErrorCodes.InvalidSetting, $"--pruning-scope must be global or layer, not '{other}'"),
                },
                Calibration = result.GetValue(calibration)!.ToLowerInvariant() switch
                {
                    "auto" => null,
                    "minmax" => CalibrationMethod.MinMax,
                    "percentile" => CalibrationMethod.Percentile,
                    var other => throw new ModelBuildException(ErrorCodes.InvalidSetting, $"--calibration must be auto, minmax or percentile, not '{other}'"),
                },
                Rounding = result.GetValue(rounding)!.ToLowerInvariant() switch
                {
                    "compensated" => RoundingMethod.Compensated,
                    "nearest" => RoundingMethod.Nearest,
                    var other => throw new ModelBuildException(ErrorCodes.InvalidSetting, $"--rounding must be compensated or nearest, not '{other}'"),
                },
                MaxAccuracyDrop = result.GetValue(drop),
                Metric = Evaluation.MetricChoice.Parse(result.GetValue(metric)),
                Confidence = result.GetValue(confidence),
                TargetAccuracy = result.GetValue(target),
                Preprocess = result.GetValue(preprocess),
                Labels = result.GetValue(labels)?.Split(',').Select(l => l.Trim()).ToArray(),
                MaxValidationImages = result.GetValue(maxImages),
            };
            settings.Validate();
            // Resolved once for the five outputs: a dataset folder may hold tens of thousands of images.
            var inputs = new OutputPaths.Inputs(new[] { dataPath, testPath, settings.TrainData }.OfType<string>().SelectMany(d => Data.DatasetFiles.Enumerate(d).Select(f => f.Full)).Prepend(modelPath));
            var outputs = new List<(string Path, string Option)> { (outputPath, "--output") };
            if (result.GetValue(report) is { } reportFile)
                outputs.AddRange([(reportFile, "--report"), (Path.ChangeExtension(reportFile, ".md"), "--report's Markdown"), (Path.ChangeExtension(reportFile, ".html"), "--report's HTML")]);
            if (result.GetValue(wrapper) is { } wrapperFile) outputs.Add((wrapperFile, "--wrapper"));
            OutputPaths.CheckDistinct(outputs);
            foreach (var (file, option) in outputs) OutputPaths.CheckWritable(file, option, inputs);
            if (result.GetValue(check))
            {
                if (!File.Exists(modelPath)) throw ModelBuildException.ModelNotFound(modelPath);
                // The training data only when the run would read them: without fine-tuning they are not used.
                foreach (var dataset in new[] { dataPath, testPath, settings.FineTunes ? settings.TrainData : null }.OfType<string>()) Data.DatasetFiles.RequireExists(dataset);
                // What the run would refuse only once under way: the spec (read with the data), the cache settings (read when
                // the cache opens) and class names of another count than the model's classes.
                Data.PreprocessSpec.Parse(settings.Preprocess);
                if (settings.Labels is { } given) CompressionInputs.CheckLabelCount(given, Graph.ModelFile.Load(modelPath), modelPath);
                cacheOptions.Check(result);
                if (settings.FineTunes) FineTuning.TrainingTool.Require();
                return ExitCodes.Ok;
            }
            // Before the baseline and the first stage, not once they are done; no cache entry is stored under a missing add-on.
            if (settings.FineTunes) FineTuning.TrainingTool.Require();

            using var cache = cacheOptions.Open(result, modelPath);
            var key = cache.Enabled ? CompressionCache.Key(modelPath, dataPath, testPath, settings, result.GetValue(allowMiss)) : null;
            byte[] container;
            CompressionReport summary;
            // The key is the content, not the paths: a hit may come from another folder or project, whose
            // paths the stored report names; this run's report names this run's files.
            (byte[], CompressionReport)? Cached(bool localOnly = false) =>
                key is not null && cache.TryGet(key, localOnly) is { } hit
                    ? (hit.Container, hit.Report with { Cache = hit.Source, Model = modelPath, Data = dataPath, TestData = testPath })
                    : null;
            var found = Cached();
            // Another build compressing the same model at once (the other framework of a multi-targeted project) is waited for, not repeated.
            using var claim = found is null && key is not null ? cache.Claim(key) : null;
            // Look again once the claim is ours: the other build may have stored the result while this one waited, or while it looked.
            if (claim is not null) found = Cached(localOnly: true);
            if (found is { } f)
            {
                (container, summary) = f;
            }
            else
            {
                // The MSBuild task announces a compression on this line, and a cache hit on the cache's own.
                CliOutput.Info($"compressing {modelPath} ({(cache.Enabled ? "no cached result" : "cache off")})");
                var compressed = ConsoleProgress.Run("compress", progress => Compressor.Run(modelPath, dataPath, testPath, settings, progress));
                if (!compressed.Report.TargetMet && result.GetValue(allowMiss)) compressed = Compressor.Uncompressed(modelPath, compressed);
                (container, summary) = (compressed.Container, compressed.Report with { Cache = cache.Enabled ? "miss" : "off" });
                if (key is not null) cache.Put(key, container, summary);
            }

            // Only what changed is written: a cache hit gives the same container and class, and rewriting them
            // would make the app's build compile its assembly again for nothing.
            AtomicFile.WriteAllBytesIfChanged(outputPath, container);
            if (result.GetValue(report) is { } reportPath)
            {
                AtomicFile.WriteAllTextIfChanged(reportPath, summary.ToJson());
                AtomicFile.WriteAllTextIfChanged(Path.ChangeExtension(reportPath, ".md"), summary.ToMarkdown());
                AtomicFile.WriteAllTextIfChanged(Path.ChangeExtension(reportPath, ".html"), Reporting.HtmlReport.Render(summary));
            }
            if (result.GetValue(wrapper) is { } wrapperPath)
            {
                var metadata = ContainerMetadata.Parse(ModelContainer.Read(container).MetadataJson);
                var spec = new WrapperSpec(result.GetValue(className) ?? CSharpNames.FromFileName(Path.GetFileNameWithoutExtension(modelPath)), result.GetValue(ns) ?? "CompressedModels",
                    result.GetValue(resource) ?? Path.GetFileName(outputPath), Path.GetFileName(modelPath), metadata);
                AtomicFile.WriteAllTextIfChanged(wrapperPath, WrapperGenerator.Generate(spec));
            }

            foreach (var warning in summary.Warnings) Console.Error.WriteLine($"{modelPath}: warning {warning.Code}: {warning.Message}");
            if (result.GetValue(json)) Console.WriteLine(summary.ToJson());
            else Print(summary, outputPath);

            // An embedded original is among the report's warnings, printed above.
            if (summary.TargetMet || summary.OriginalEmbedded) return ExitCodes.Ok;
            var (shownBound, shownTarget) = TargetFigures.Shown(summary.FinalAccuracyBound, summary.TargetAccuracy, 4);
            var message = $"{summary.Measure} target not met: the best compressed model reaches {Pct(summary.FinalAccuracy)} on the validation data (lower {Pct(summary.Confidence)} bound {Pct(shownBound)}), the target is {Pct(shownTarget)} (baseline {Pct(summary.BaselineAccuracy)})";
            Console.Error.WriteLine($"{modelPath}: error {ErrorCodes.TargetNotMet}: {message}; the best model found was written to {outputPath}");
            return ExitCodes.TargetMissed;
        }));
        return command;
    }

    static string Pct(double value) => (value * 100).ToString("0.00", CultureInfo.InvariantCulture) + "%";

    static void Print(CompressionReport r, string outputPath)
    {
        Console.WriteLine($"Model        {r.Model}");
        Console.WriteLine($"Size         {Units.Bytes(r.OriginalBytes)} -> {Units.Bytes(r.CompressedBytes)} ({r.SizeChange})");
        var (bound, target) = TargetFigures.Shown(r.FinalAccuracyBound, r.TargetAccuracy, 4);
        Console.WriteLine($"Validation   {Pct(r.BaselineAccuracy)} -> {Pct(r.FinalAccuracy)}, {Pct(r.Confidence)} bound {Pct(bound)} (target {Pct(target)}, {r.Measure}: {r.MeasureReason})");
        if (r.TestAccuracy is { } test) Console.WriteLine($"Test         {Pct(r.BaselineTestAccuracy ?? 0)} -> {Pct(test)} ({r.TestMeasure})");
        // The class that lost most: an average within budget can hide it (the report lists every class).
        if (r.PerClass.MinBy(c => c.CompressedAccuracy - c.OriginalAccuracy) is { } worst && worst.CompressedAccuracy < worst.OriginalAccuracy)
            Console.WriteLine($"Worst class  {worst.Class}{(worst.Name.Length > 0 ? " " + worst.Name : "")}: {Pct(worst.OriginalAccuracy)} -> {Pct(worst.CompressedAccuracy)} ({worst.Images} images)");
        Console.WriteLine($"Latency      {Units.Ms(r.LatencyMsOriginal)} -> {Units.Ms(r.LatencyMsCompressed)} median per image, {r.LatencySpeedup.ToString("0.00", CultureInfo.InvariantCulture)}x{(r.LatencySpeedup < 1 ? " (SLOWER)" : "")} ({r.DescribeLatency()})");
        Console.WriteLine($"Chosen       {string.Join(", ", r.Chosen.Select(kv => $"{kv.Key}={kv.Value}"))}");
        Console.WriteLine($"Evaluations  {r.Evaluations} in {r.Seconds.ToString("0.0", CultureInfo.InvariantCulture)} s ({r.Search} search, cache {r.Cache})");
        if (r.FineTuning is { } ft) Console.WriteLine($"Fine-tuning  {ft.Runs} runs, {ft.Seconds.ToString("0", CultureInfo.InvariantCulture)} s, {ft.Threads} threads");
        if (r.Stages.Count > 0)
        {
            var table = new Table().AddColumns("stage", "target", "chosen", "evaluations", r.Measure, "bound", "size");
            foreach (var s in r.Stages)
                table.AddRow(s.Method, Pct(s.Target), Markup.Escape(s.Chosen), s.Evaluations.ToString(CultureInfo.InvariantCulture), Pct(s.Accuracy), Pct(s.Bound), s.Bytes > 0 ? Units.Bytes(s.Bytes) : "-");
            AnsiConsole.Write(table);
        }
        Console.WriteLine($"Wrote        {outputPath}");
    }
}

using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;
using ModelBuildTasks.Data;
using ModelBuildTasks.Onnx;

namespace ModelBuildTasks.Build;

/// <summary>
/// Compresses each <c>CompressModel</c> item by running the engine (<c>dotnet-compress-model compress</c>)
/// in its own process, so no native library is ever loaded into an MSBuild node. An item whose model,
/// data and settings have the same content as at its last compression is skipped without starting
/// the engine. Errors and warnings the engine prints as <c>file: error MBTnnnn: message</c> become
/// MSBuild errors and warnings with that code and file.
/// </summary>
public sealed partial class CompressModels : ToolTask
{
    string arguments = "";
    Item? current;

    // The engine options whose metadata text is passed as it is.
    static readonly (string Flag, string Metadata)[] GivenOptions =
    [
        ("--fine-tune-epochs", "FineTuneEpochs"), ("--fine-tune-seconds", "FineTuneSeconds"), ("--fine-tune-lr", "FineTuneLearningRate"), ("--l1-gamma", "L1Gamma"), ("--search", "Search"), ("--resolution", "Resolution"),
        ("--max-evaluations", "MaxEvaluations"), ("--min-bits", "MinBits"), ("--max-ns-ratio", "MaxNsRatio"), ("--max-dc-ratio", "MaxDcRatio"),
        ("--max-accuracy-drop", "MaxAccuracyDrop"), ("--target-accuracy", "TargetAccuracy"), ("--metric", "Metric"), ("--confidence", "Confidence"),
        ("--methods", "Methods"), ("--bits", "Bits"), ("--ns-ratio", "NsRatio"), ("--dc-ratio", "DcRatio"), ("--shared-levels", "SharedLevels"),
        ("--pruning-scope", "PruningScope"), ("--preprocess", "Preprocess"), ("--labels", "Labels"), ("--calibration", "Calibration"),
        ("--rounding", "Rounding"), ("--max-validation-images", "MaxValidationImages"),
    ];

    // Every engine option an item's metadata sets: the above, and the paths the task resolves against the project and the names it passes itself.
    static readonly (string Flag, string Metadata)[] Options =
    [
        .. GivenOptions,
        ("--data", "ValidationData"), ("--test-data", "TestData"), ("--train-data", "TrainData"), ("--class-name", "ClassName"), ("--namespace", "Namespace"),
    ];

    /// <summary>The <c>CompressModel</c> items, with their metadata.</summary>
    [Required] public ITaskItem[] Models { get; set; } = [];

    /// <summary>The engine's entry assembly (<c>dotnet-compress-model.dll</c>).</summary>
    [Required] public string EngineAssembly { get; set; } = "";

    /// <summary>Where ONNX Runtime's natives are found: the NuGet packages folder.</summary>
    public string NuGetPackageRoot { get; set; } = "";

    /// <summary>The project's folder; relative data paths are resolved against it.</summary>
    [Required] public string ProjectDirectory { get; set; } = "";

    /// <summary>The project file (<c>$(MSBuildProjectFullPath)</c>), which errors without a file of their own name; without it, the file the task runs in (the package's .targets).</summary>
    public string ProjectFile { get; set; } = "";

    string Project => ProjectFile.Length > 0 ? ProjectFile : BuildEngine.ProjectFileOfTaskNode;

    /// <summary>The folder for outputs (under obj/).</summary>
    [Required] public string OutputDirectory { get; set; } = "";

    /// <summary>The shared cache folder; empty for the engine's default.</summary>
    public string CacheDirectory { get; set; } = "";

    /// <summary>
    /// The shared remote cache (a blob container URL); empty for none. A SAS query in it is passed to
    /// the engine through the environment, never on the command line, which MSBuild logs.
    /// </summary>
    public string CacheUrl { get; set; } = "";

    /// <summary>Read the remote cache but never write to it (pull-request builds).</summary>
    public bool CacheReadOnly { get; set; }

    /// <summary>Size cap of the local cache folder (e.g. <c>2GB</c>); empty for the engine's default.</summary>
    public string CacheMaxSize { get; set; } = "";

    /// <summary>When true, a missed accuracy target is a warning and the original model is embedded.</summary>
    public bool AllowAccuracyMiss { get; set; }

    /// <summary>The items with their output paths (<c>Container</c>, <c>Wrapper</c>, <c>Report</c>, <c>ResourceName</c>), for the targets to add to the build.</summary>
    [Output] public ITaskItem[] Outputs { get; set; } = [];

    /// <inheritdoc />
    protected override string ToolName => "dotnet";

    /// <inheritdoc />
    protected override string GenerateFullPathToTool() =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    /// <inheritdoc />
    protected override string GenerateCommandLineCommands() => arguments;

    /// <inheritdoc />
    protected override MessageImportance StandardErrorLoggingImportance => MessageImportance.Normal;

    /// <inheritdoc />
    /// <remarks>
    /// The engine's line protocol (as <c>dotnet ef</c>'s): progress (<c>info:</c>) at high importance,
    /// so that a compression of many minutes shows its stage and candidate in the default build
    /// output; detail (<c>verbose:</c>) at low; <c>file: error MBTnnnn: ...</c> lines stay errors.
    /// Whether the item is compressed or taken from the cache is known only once the engine has
    /// looked: its <c>compressing</c> and <c>cache: hit</c> lines say which, at high importance.
    /// </remarks>
    protected override void LogEventsFromTextOutput(string singleLine, MessageImportance messageImportance)
    {
        if (singleLine.StartsWith("info: ", StringComparison.Ordinal)) Log.LogMessage(MessageImportance.High, "ModelBuildTasks: " + singleLine[6..]);
        else if (current is not null && singleLine.StartsWith("compressing ", StringComparison.Ordinal))
            Log.LogMessage(MessageImportance.High, $"ModelBuildTasks: compressing {current.Name} (this can take a while; results are cached by content)");
        else if (current is not null && (singleLine.StartsWith("cache: hit ", StringComparison.Ordinal) || singleLine.StartsWith("cache: remote-hit ", StringComparison.Ordinal)))
            Log.LogMessage(MessageImportance.High, $"ModelBuildTasks: {current.Name} taken from the cache, not compressed again ({singleLine})");
        else if (singleLine.StartsWith("verbose: ", StringComparison.Ordinal)) Log.LogMessage(MessageImportance.Low, singleLine[9..]);
        else if (FileLess().Match(singleLine) is { Success: true } m && current is not null)
        {
            // A setting's error has no file of its own: it belongs to the item in the project, in the metadata's names.
            var message = $"CompressModel '{current.Source.ItemSpec}': {InMetadataNames(m.Groups["message"].Value)}";
            var project = Project;
            if (m.Groups["kind"].Value == "error") Log.LogError(null, m.Groups["code"].Value, null, project, 0, 0, 0, 0, message);
            else Log.LogWarning(null, m.Groups["code"].Value, null, project, 0, 0, 0, 0, message);
        }
        else if (OwnDiagnostic().Match(singleLine) is { Success: true } own)
        {
            // A file's diagnostic in the metadata's names too (--labels is Labels here); the file part stays as written.
            var cut = own.Index + own.Length;
            base.LogEventsFromTextOutput(singleLine[..cut] + InMetadataNames(singleLine[cut..]), messageImportance);
        }
        else
        {
            // The host's or a runtime's own words ("Error:", then the reason on the lines after it): MSBuild would read
            // "Error:" as an error of no text, and an error logged so keeps HandleTaskExecutionErrors from naming the reason.
            if (singleLine.Trim().Length > 0) lastLines.Enqueue(singleLine.Trim());
            while (lastLines.Count > 8) lastLines.Dequeue();
            Log.LogMessage(messageImportance, singleLine);
        }
    }

    // The engine's last lines outside its protocol (a runtime's or the host's own words), for an engine that stops without an error.
    readonly Queue<string> lastLines = new();

    /// <inheritdoc />
    /// <remarks>
    /// An engine that exits non-zero has said why in an MBT error, except when it could not: killed (the kernel's
    /// out-of-memory killer, a CI time limit: exit 137) or crashed outside .NET's reach. That still gets a code and the
    /// item, with the exit code and the last lines it wrote, instead of MSBuild's bare "exited with code 137".
    /// </remarks>
    protected override bool HandleTaskExecutionErrors()
    {
        if (!Log.HasLoggedErrors && current is not null)
            Error(ErrorCodes.EngineStopped, current.Source.GetMetadata("FullPath"),
                $"the compression engine stopped with exit code {ExitCode} without reporting an error" +
                (ExitCode is 137 or -9 ? " (killed: out of memory, or a time limit)" : "") +
                (lastLines.Count > 0 ? ": " + string.Join(" | ", lastLines) : ""));
        lastLines.Clear();
        return false;
    }

    [GeneratedRegex(@"[;,] MSBuild: [^)]*(?=\))| \(MSBuild: [^)]*\)")]
    private static partial Regex MsBuildHint();

    [GeneratedRegex(@"^(?<kind>error|warning) (?<code>MBT\d{4}): (?<message>.*)$")]
    private static partial Regex FileLess();

    // The engine's diagnostics with a file: "path: error MBTnnnn: message", which MSBuild's canonical format reads.
    [GeneratedRegex(@": (error|warning) MBT\d{4}: ")]
    private static partial Regex OwnDiagnostic();

    // The engine options the project's properties set, for every item.
    static readonly (string Flag, string Property)[] PropertyOptions =
    [
        ("--cache-dir", "ModelCompressionCacheDir"), ("--cache-url", "ModelCompressionCacheUrl"), ("--cache-max-size", "ModelCompressionCacheMaxSize"),
    ];

    // The engine's options, as the item metadata or project properties that set them. A hint the engine gives for builds
    // ("--labels (MSBuild: Labels)") goes first: the option becomes that name anyway.
    static string InMetadataNames(string message)
    {
        message = MsBuildHint().Replace(message, "");
        foreach (var (flag, name) in Options.Concat(PropertyOptions).OrderByDescending(o => o.Flag.Length)) message = message.Replace(flag, name, StringComparison.Ordinal);
        return message;
    }

    /// <inheritdoc />
    /// <remarks>
    /// On Unix ToolTask turns every backslash of the command line into a slash, taking them for
    /// Windows path separators; the arguments here are already right for the OS (and a label may
    /// hold a backslash), so they are passed as they are.
    /// </remarks>
    protected override string AdjustCommandsForOperatingSystem(string input) => input;

    /// <inheritdoc />
    protected override System.Diagnostics.ProcessStartInfo GetProcessStartInfo(string pathToTool, string commandLineCommands, string responseFileSwitch)
    {
        var start = base.GetProcessStartInfo(pathToTool, commandLineCommands, responseFileSwitch);
        // Set here rather than through EnvironmentVariables, which ToolTask writes to the log.
        if (CacheUrl.IndexOf('?') is var q and >= 0 && q < CacheUrl.Length - 1) start.Environment["AZURE_STORAGE_SAS_TOKEN"] = CacheUrl[(q + 1)..];
        return start;
    }

    /// <inheritdoc />
    public override bool Execute()
    {
        var items = Models.Select(Describe).ToList();
        ItemCollisions.Report(Models.Select(m => ItemCollisions.Of(m, OutputDirectory)).ToList(), Error);
        if (Log.HasLoggedErrors) return false; // every problem with the items is reported before anything runs
        try
        {
            var stale = items.Where(i => !UpToDate(i)).ToList();
            // Every stale item's settings and paths are checked before any compression starts: a bad
            // setting on the last item must not wait for the first to compress for minutes.
            foreach (var item in stale)
            {
                Directory.CreateDirectory(item.Folder);
                if (!Run(item, item.Arguments + " --check")) return false;
            }
            var outputs = new List<ITaskItem>();
            foreach (var item in items)
            {
                if (!stale.Contains(item))
                {
                    Log.LogMessage(MessageImportance.Normal, $"ModelBuildTasks: {item.Name} is up to date");
                    // The IDE's up-to-date check compares times: a model touched but not changed must not look newer than the stamp forever.
                    if (File.GetLastWriteTimeUtc(item.Stamp) < item.NewestInput) File.SetLastWriteTimeUtc(item.Stamp, DateTime.UtcNow);
                }
                else
                {
                    if (File.Exists(item.Stamp)) File.Delete(item.Stamp);
                    // Not "compressing" yet: the engine looks in the cache first, and its lines say which it did.
                    Log.LogMessage(MessageImportance.Normal, $"ModelBuildTasks: {item.Name} changed since its last build; running the engine");
                    if (!Run(item, item.Arguments)) return false;
                    File.WriteAllText(item.Stamp, Stamp(item));
                }
                WriteSidecarList(item);
                LogSummary(item);
                // Literal values: SetMetadata takes MSBuild-escaped text, so a ';' in the project's path
                // split the class into two Compile items that do not exist (CS2001).
                ITaskItem2 output = new TaskItem(item.Source);
                output.SetMetadataValueLiteral("Container", item.Container);
                output.SetMetadataValueLiteral("Wrapper", item.Wrapper);
                output.SetMetadataValueLiteral("Report", item.Report);
                output.SetMetadataValueLiteral("ResourceName", item.ResourceName);
                outputs.Add(output);
            }
            Outputs = outputs.ToArray();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // obj/ left to another user by a `sudo dotnet build`, or a file where a folder goes.
            Error(ErrorCodes.FileSystemRefused, Path.GetFullPath(OutputDirectory), $"the outputs cannot be written under ModelCompressionIntermediateDir: {e.Message}");
        }
        return !Log.HasLoggedErrors;
    }

    bool Run(Item item, string commandLine)
    {
        (current, arguments) = (item, commandLine);
        lastLines.Clear(); // an earlier run's lines (another item's report) are not this one's
        try
        {
            return base.Execute() && !Log.HasLoggedErrors;
        }
        finally
        {
            current = null;
        }
    }

    // The stamp records the outputs' content too: a damaged or edited container or wrapper is rebuilt, not embedded.
    static string Stamp(Item item) => item.Fingerprint + "\n" + ContentFingerprint.Compute([item.Container, item.Wrapper], "outputs");

    static bool UpToDate(Item item) =>
        File.Exists(item.Container) && File.Exists(item.Wrapper) && File.Exists(item.Stamp) && File.ReadAllText(item.Stamp) == Stamp(item);

    // The IDE's up-to-date check and dotnet watch must follow the model's external-data files too, but
    // design-time builds must not parse a model to find them: CompressModel_IdeItems reads this list of
    // what the last build found. Rewritten only when it changes, so it never looks newer than it is.
    static void WriteSidecarList(Item item) => AtomicFile.WriteAllTextIfChanged(item.SidecarList, string.Concat(item.Sidecars.Select(f => f + "\n")));

    sealed record Item(ITaskItem Source, string Name, string Folder, string Container, string Wrapper, string Report, string ResourceName,
        string Fingerprint, string Arguments, IReadOnlyList<string> Sidecars, DateTime NewestInput)
    {
        public string Stamp => Path.Combine(Folder, "fingerprint.txt");
        public string SidecarList => Path.Combine(Folder, "external-data.txt");
    }

    Item Describe(ITaskItem model)
    {
        var modelPath = model.GetMetadata("FullPath");
        var name = Path.GetFileNameWithoutExtension(modelPath);
        string Meta(string key) => model.GetMetadata(key).Trim();
        string? Resolve(string key) => Meta(key) is { Length: > 0 } value ? Path.GetFullPath(Path.Combine(ProjectDirectory, value)) : null;

        if (!File.Exists(modelPath)) Error(ModelBuildException.ModelNotFound(modelPath));
        WarnOfUnknownMetadata(model);
        var data = Resolve("ValidationData");
        if (data is null) Error(ErrorCodes.InvalidSetting, modelPath, "the CompressModel item has no ValidationData (a labelled DATASET to check the accuracy target on)");
        else if (!File.Exists(data) && !Directory.Exists(data)) Error(ErrorCodes.DatasetNotFound, data, "ValidationData not found");
        var test = Resolve("TestData");
        if (test is not null && !File.Exists(test) && !Directory.Exists(test)) Error(ErrorCodes.DatasetNotFound, test, "TestData not found");
        var train = Resolve("TrainData");
        if (train is not null && !File.Exists(train) && !Directory.Exists(train)) Error(ErrorCodes.DatasetNotFound, train, "TrainData not found");

        var className = ItemCollisions.ClassNameOf(model);
        var folder = Path.Combine(OutputDirectory, name);
        var container = Path.Combine(folder, name + ".cmodel");
        var wrapper = Path.Combine(folder, name + ".g.cs");
        var report = Path.Combine(folder, "report.json");
        var resourceName = $"ModelBuildTasks.{name}.cmodel";

        var args = new List<string> { "exec" };
        if (NuGetPackageRoot.Length > 0) args.AddRange(["--additionalprobingpath", NuGetPackageRoot]);
        args.AddRange([EngineAssembly, "compress", modelPath, "--data", data ?? "", "-o", container, "--report", report,
            "--wrapper", wrapper, "--class-name", className, "--namespace", Meta("Namespace"), "--resource-name", resourceName]);
        if (test is not null) args.AddRange(["--test-data", test]);
        if (train is not null) args.AddRange(["--train-data", train]);
        foreach (var (flag, key) in GivenOptions)
            if (Meta(key) is { Length: > 0 } v) args.AddRange([flag, v]);
        if (AllowAccuracyMiss) args.Add("--allow-miss");

        // Everything but the output folder decides the result; the engine version is in the engine's path.
        var settings = string.Join("\n", args.Skip(1).Select(a => a.Replace(OutputDirectory, "", StringComparison.Ordinal))) + "\n" + EngineAssembly;
        // Where results are cached does not change them: these stay out of the fingerprint (a moved cache
        // folder, empty at first, would otherwise compress every up-to-date model again from scratch).
        if (CacheDirectory.Length > 0) args.AddRange(["--cache-dir", Path.GetFullPath(Path.Combine(ProjectDirectory, CacheDirectory))]);
        if (CacheUrl.Length > 0) args.AddRange(["--cache-url", CacheUrl.Split('?')[0]]);
        if (CacheReadOnly) args.Add("--cache-read-only");
        if (CacheMaxSize.Length > 0) args.AddRange(["--cache-max-size", CacheMaxSize]);
        var fingerprint = "";
        var newestInput = DateTime.MinValue;
        IReadOnlyList<string> sidecars = [];
        try
        {
            // The model is read once: its bytes are both scanned for its external-data files and fingerprinted.
            var modelBytes = ReadModel(modelPath);
            sidecars = modelBytes is null ? [] : ExternalDataFiles(modelBytes, modelPath);
            using var content = new ContentFingerprint(settings);
            if (modelBytes is not null) content.Add(modelPath, modelBytes);
            // One the task could not read (a FIFO, a file over 2 GiB, no permission) is fingerprinted from
            // disk as any input is (a FIFO is never opened); the engine's check then names its error.
            else if (File.Exists(modelPath)) content.Add(modelPath);
            // A dataset's files go in under their path inside it, as the engine's cache key takes them: an image folder's
            // subfolders are class names, so renaming one changes the labels though no file's name or bytes change.
            var inputs = sidecars.Select(f => (Full: f, Name: Path.GetFileName(f))).ToList();
            if (data is not null) inputs.AddRange(DatasetFiles.Enumerate(data).Select(f => (f.Full, "validation/" + f.Relative)));
            if (test is not null) inputs.AddRange(DatasetFiles.Enumerate(test).Select(f => (f.Full, "test/" + f.Relative)));
            var trainFiles = train is null ? [] : DatasetFiles.Enumerate(train).Select(f => (f.Full, "train/" + f.Relative)).ToList();
            var fineTunes = Meta("FineTuneEpochs") is { Length: > 0 } e && e != "0" || Meta("FineTuneSeconds").Length > 0;
            if (fineTunes) inputs.AddRange(trainFiles);
            var existing = File.Exists(modelPath) ? inputs.Where(f => File.Exists(f.Full)).ToList() : [];
            foreach (var (full, relative) in existing) content.Add(full, relative);
            fingerprint = content.Finish();
            // Training data nothing fine-tunes with decide nothing, but the IDE's check lists them (CompressModel_IdeItems):
            // the stamp must not look older than them forever.
            newestInput = existing.Select(f => f.Full).Concat(fineTunes ? [] : trainFiles.Select(f => f.Full)).Prepend(modelPath)
                .Where(File.Exists).Select(File.GetLastWriteTimeUtc).DefaultIfEmpty(DateTime.MinValue).Max();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Error(ErrorCodes.FileSystemRefused, modelPath, $"the model's inputs cannot be read: {e.Message}");
        }
        // Where the host finds ONNX Runtime's natives decides nothing about the result: after the fingerprint.
        if (OnnxRuntimeProbe() is { } probe) args.InsertRange(1, ["--additionalprobingpath", probe]);
        return new Item(model, Path.GetFileName(modelPath), folder, container, wrapper, report, resourceName, fingerprint,
            string.Join(" ", args.Select(Quote)), sidecars, newestInput);
    }

    // A probing folder with a newer ONNX Runtime's natives where the engine looks for its own version, when the app restored
    // only the newer one (see OnnxRuntimeNatives); made once per build beside the outputs; null to run the engine as packed.
    string? OnnxRuntimeProbe()
    {
        if (onnxRuntimeProbe is not null) return onnxRuntimeProbe.Length > 0 ? onnxRuntimeProbe : null;
        onnxRuntimeProbe = "";
        var packed = Path.ChangeExtension(EngineAssembly, ".deps.json");
        if (!File.Exists(packed)) return null;
        try
        {
            return OnnxRuntimeNatives.Probe(File.ReadAllText(packed), NuGetPackageRoot, Path.GetFullPath(Path.Combine(OutputDirectory, "onnxruntime-probe"))) is { } probe
                ? onnxRuntimeProbe = probe : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null; // the host then says which native it could not find (MBT1202)
        }
    }

    string? onnxRuntimeProbe;

    // The model file's bytes, or null when it is missing or cannot be read as a model (the engine's check reports why).
    static byte[]? ReadModel(string modelPath)
    {
        try
        {
            return File.Exists(modelPath) ? InputFile.ReadAllBytes(modelPath, InputFile.MaxBytes, ErrorCodes.ModelNotFound, ErrorCodes.InvalidModel) : null;
        }
        catch (ModelBuildException)
        {
            return null;
        }
    }

    // Weights kept beside the model (ONNX external data) decide the result as much as the model file:
    // a changed sidecar with the same .onnx must compress again. A model that cannot be read has none
    // here; the engine's check reports it.
    static IReadOnlyList<string> ExternalDataFiles(byte[] modelBytes, string modelPath)
    {
        try
        {
            return OnnxSignature.Parse(modelBytes, modelPath).ExternalDataFiles;
        }
        catch (ModelBuildException)
        {
            return [];
        }
    }

    void LogSummary(Item item)
    {
        try
        {
            using var report = JsonDocument.Parse(File.ReadAllText(item.Report));
            var r = report.RootElement;
            string P(string key) => r.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number ? (v.GetDouble() * 100).ToString("0.00", CultureInfo.InvariantCulture) + "%" : "n/a";
            var (before, after) = (r.GetProperty("original_bytes").GetInt64(), r.GetProperty("compressed_bytes").GetInt64());
            var change = r.GetProperty("size_change").GetString(); // the report's own wording
            string Name(string key) => r.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : "accuracy";
            var embedded = r.TryGetProperty("original_embedded", out var o) && o.ValueKind == JsonValueKind.True ? " (the original model: no compressed one met the target)" : "";
            Log.LogMessage(MessageImportance.High,
                $"ModelBuildTasks: {item.Name}: {before:N0} -> {after:N0} bytes ({change}){embedded}, validation {Name("measure")} {P("baseline_accuracy")} -> {P("final_accuracy")}" +
                // Without TestData there is no held-out figure to give, rather than one that reads "n/a".
                (r.TryGetProperty("test_accuracy", out var test) && test.ValueKind == JsonValueKind.Number ? $", test {Name("test_measure")} {P("test_accuracy")}" : "") +
                $"; report: {Path.ChangeExtension(item.Report, ".html")}");
        }
        catch (Exception e) when (e is IOException or JsonException or KeyNotFoundException)
        {
            Log.LogMessage(MessageImportance.High, $"ModelBuildTasks: {item.Name}: report: {item.Report}");
        }
    }

    void Error(string code, string file, string message) => Log.LogError(null, code, null, file, 0, 0, 0, 0, message);

    void Error(ModelBuildException e) => Error(e.Code, e.File ?? Project, e.Message);

    // MSBuild takes any metadata, so a misspelt name (MaxAccuracyDorp) would silently keep the default.
    void WarnOfUnknownMetadata(ITaskItem model)
    {
        var known = Options.Select(o => o.Metadata).ToList();
        foreach (var name in model.CloneCustomMetadata().Keys.Cast<string>())
        {
            if (known.Contains(name, StringComparer.OrdinalIgnoreCase)) continue;
            var closest = known.MinBy(k => EditDistance(k.ToLowerInvariant(), name.ToLowerInvariant()))!;
            if (EditDistance(closest.ToLowerInvariant(), name.ToLowerInvariant()) <= 2)
                Log.LogWarning(null, ErrorCodes.UnknownMetadata, null, Project, 0, 0, 0, 0,
                    $"CompressModel '{model.ItemSpec}' has metadata '{name}', which ModelBuildTasks does not know and ignores: did you mean '{closest}'?");
        }
    }

    // Levenshtein distance with adjacent transpositions counted as one edit.
    static int EditDistance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (var j = 0; j <= b.Length; j++) d[0, j] = j;
        for (var i = 1; i <= a.Length; i++)
            for (var j = 1; j <= b.Length; j++)
            {
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
            }
        return d[a.Length, b.Length];
    }

    // One argument as ProcessStartInfo.Arguments splits it again (the MSVCRT rules, also on Unix):
    // backslashes are literal except in a run that ends at a quote, so only such runs are doubled;
    // doubling every backslash turned a label "a\b" into "a\\b".
    static string Quote(string argument)
    {
        if (argument.Length > 0 && argument.All(c => char.IsAsciiLetterOrDigit(c) || "-_./=:,+@%".Contains(c))) return argument;
        var quoted = new StringBuilder("\"");
        var backslashes = 0;
        foreach (var c in argument)
        {
            if (c == '\\') { backslashes++; continue; }
            quoted.Append('\\', c == '"' ? 2 * backslashes + 1 : backslashes).Append(c);
            backslashes = 0;
        }
        return quoted.Append('\\', 2 * backslashes).Append('"').ToString();
    }
}

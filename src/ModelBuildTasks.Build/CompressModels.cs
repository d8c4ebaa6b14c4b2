using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;
using ModelBuildTasks.Data;

namespace ModelBuildTasks.Build;

/// <summary>
/// Compresses each <c>CompressModel</c> item by running the engine (<c>dotnet-compress-model compress</c>)
/// in its own process, so no native library is ever loaded into an MSBuild node. An item whose model,
/// data and settings have the same content as at its last compression is skipped without starting
/// the engine. Errors and warnings the engine prints as <c>file: error MBTnnnn: message</c> become
/// MSBuild errors and warnings with that code and file.
/// </summary>
public sealed class CompressModels : ToolTask
{
    string arguments = "";

    /// <summary>The <c>CompressModel</c> items, with their metadata.</summary>
    [Required] public ITaskItem[] Models { get; set; } = [];

    /// <summary>The engine's entry assembly (<c>dotnet-compress-model.dll</c>).</summary>
    [Required] public string EngineAssembly { get; set; } = "";

    /// <summary>Where ONNX Runtime's natives are found: the NuGet packages folder.</summary>
    public string NuGetPackageRoot { get; set; } = "";

    /// <summary>The project's folder; relative data paths are resolved against it.</summary>
    [Required] public string ProjectDirectory { get; set; } = "";

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
    /// </remarks>
    protected override void LogEventsFromTextOutput(string singleLine, MessageImportance messageImportance)
    {
        if (singleLine.StartsWith("info: ", StringComparison.Ordinal)) Log.LogMessage(MessageImportance.High, "ModelBuildTasks: " + singleLine[6..]);
        else if (singleLine.StartsWith("verbose: ", StringComparison.Ordinal)) Log.LogMessage(MessageImportance.Low, singleLine[9..]);
        else base.LogEventsFromTextOutput(singleLine, messageImportance);
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
        ItemCollisions.Report(items.Select(i => new ItemCollisions.Item(i.Source.ItemSpec, i.Folder, i.ClassName, i.Namespace)).ToList(), Error);
        if (Log.HasLoggedErrors) return false; // every problem with the items is reported before anything runs
        var outputs = new List<ITaskItem>();
        foreach (var item in items)
        {
            var fingerprint = ContentFingerprint.Compute(item.InputFiles, item.Settings);
            var stamp = Path.Combine(item.Folder, "fingerprint.txt");
            // The stamp records the outputs' content too: a damaged or edited container or wrapper is rebuilt, not embedded.
            var upToDate = File.Exists(item.Container) && File.Exists(item.Wrapper) && File.Exists(stamp)
                && File.ReadAllText(stamp) == fingerprint + "\n" + ContentFingerprint.Compute([item.Container, item.Wrapper], "outputs");
            if (upToDate)
            {
                Log.LogMessage(MessageImportance.Normal, $"ModelBuildTasks: {item.Name} is up to date");
            }
            else
            {
                Directory.CreateDirectory(item.Folder);
                if (File.Exists(stamp)) File.Delete(stamp);
                arguments = item.Arguments;
                Log.LogMessage(MessageImportance.High, $"ModelBuildTasks: compressing {item.Name} (this can take a while; results are cached by content)");
                if (!base.Execute() || Log.HasLoggedErrors) return false;
                File.WriteAllText(stamp, fingerprint + "\n" + ContentFingerprint.Compute([item.Container, item.Wrapper], "outputs"));
            }
            LogSummary(item);
            var output = new TaskItem(item.Source);
            output.SetMetadata("Container", item.Container);
            output.SetMetadata("Wrapper", item.Wrapper);
            output.SetMetadata("Report", item.Report);
            output.SetMetadata("ResourceName", item.ResourceName);
            outputs.Add(output);
        }
        Outputs = outputs.ToArray();
        return !Log.HasLoggedErrors;
    }

    sealed record Item(ITaskItem Source, string Name, string Folder, string Container, string Wrapper, string Report, string ResourceName,
        IReadOnlyList<string> InputFiles, string Settings, string Arguments, string ClassName, string Namespace);

    Item Describe(ITaskItem model)
    {
        var modelPath = model.GetMetadata("FullPath");
        var name = Path.GetFileNameWithoutExtension(modelPath);
        string Meta(string key) => model.GetMetadata(key).Trim();
        string? Resolve(string key) => Meta(key) is { Length: > 0 } value ? Path.GetFullPath(Path.Combine(ProjectDirectory, value)) : null;

        if (!File.Exists(modelPath)) Error("MBT1001", modelPath, "model file not found");
        var data = Resolve("ValidationData");
        if (data is null) Error("MBT1301", modelPath, "the CompressModel item has no ValidationData (a labelled DATASET to check the accuracy target on)");
        else if (!File.Exists(data) && !Directory.Exists(data)) Error("MBT1101", data, "ValidationData not found");
        var test = Resolve("TestData");
        if (test is not null && !File.Exists(test) && !Directory.Exists(test)) Error("MBT1101", test, "TestData not found");
        var train = Resolve("TrainData");
        if (train is not null && !File.Exists(train) && !Directory.Exists(train)) Error("MBT1101", train, "TrainData not found");

        var className = Meta("ClassName") is { Length: > 0 } c ? c : name;
        var folder = Path.Combine(OutputDirectory, name);
        var container = Path.Combine(folder, name + ".cmodel");
        var wrapper = Path.Combine(folder, name + ".g.cs");
        var report = Path.Combine(folder, "report.json");
        var resourceName = $"ModelBuildTasks.{name}.cmodel";

        var args = new List<string> { "exec" };
        if (NuGetPackageRoot.Length > 0) args.AddRange(["--additionalprobingpath", NuGetPackageRoot]);
        args.AddRange([EngineAssembly, "compress", modelPath, "--data", data ?? "", "-o", container, "--report", report,
            "--wrapper", wrapper, "--class-name", className, "--namespace", Meta("Namespace"), "--resource-name", resourceName]);
        void Option(string flag, string key) { if (Meta(key) is { Length: > 0 } v) args.AddRange([flag, v]); }
        if (test is not null) args.AddRange(["--test-data", test]);
        if (train is not null) args.AddRange(["--train-data", train]);
        Option("--fine-tune-epochs", "FineTuneEpochs");
        Option("--fine-tune-seconds", "FineTuneSeconds");
        Option("--search", "Search");
        Option("--resolution", "Resolution");
        Option("--max-evaluations", "MaxEvaluations");
        Option("--min-bits", "MinBits");
        Option("--max-ns-ratio", "MaxNsRatio");
        Option("--max-dc-ratio", "MaxDcRatio");
        Option("--max-accuracy-drop", "MaxAccuracyDrop");
        Option("--target-accuracy", "TargetAccuracy");
        Option("--metric", "Metric");
        Option("--confidence", "Confidence");
        Option("--methods", "Methods");
        Option("--bits", "Bits");
        Option("--ns-ratio", "NsRatio");
        Option("--dc-ratio", "DcRatio");
        Option("--shared-levels", "SharedLevels");
        Option("--pruning-scope", "PruningScope");
        Option("--preprocess", "Preprocess");
        Option("--labels", "Labels");
        Option("--calibration", "Calibration");
        Option("--rounding", "Rounding");
        Option("--max-validation-images", "MaxValidationImages");
        if (CacheDirectory.Length > 0) args.AddRange(["--cache-dir", Path.GetFullPath(Path.Combine(ProjectDirectory, CacheDirectory))]);
        if (AllowAccuracyMiss) args.Add("--allow-miss");

        var inputs = new List<string> { modelPath };
        if (data is not null) inputs.AddRange(DatasetFiles.Enumerate(data).Select(f => f.Full));
        if (test is not null) inputs.AddRange(DatasetFiles.Enumerate(test).Select(f => f.Full));
        if (train is not null && (Meta("FineTuneEpochs") is { Length: > 0 } e && e != "0" || Meta("FineTuneSeconds").Length > 0)) inputs.AddRange(DatasetFiles.Enumerate(train).Select(f => f.Full));
        // Everything but the output folder decides the result; the engine version is in the engine's path.
        var settings = string.Join("\n", args.Skip(1).Select(a => a.Replace(OutputDirectory, "", StringComparison.Ordinal))) + "\n" + EngineAssembly;
        // Where results are cached does not change them: these stay out of the fingerprint.
        if (CacheUrl.Length > 0) args.AddRange(["--cache-url", CacheUrl.Split('?')[0]]);
        if (CacheReadOnly) args.Add("--cache-read-only");
        if (CacheMaxSize.Length > 0) args.AddRange(["--cache-max-size", CacheMaxSize]);
        return new Item(model, Path.GetFileName(modelPath), folder, container, wrapper, report, resourceName, File.Exists(modelPath) ? inputs.Where(File.Exists).ToList() : [],
            settings, string.Join(" ", args.Select(Quote)), className, Meta("Namespace"));
    }

    void LogSummary(Item item)
    {
        try
        {
            using var report = JsonDocument.Parse(File.ReadAllText(item.Report));
            var r = report.RootElement;
            string P(string key) => r.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number ? (v.GetDouble() * 100).ToString("0.00", CultureInfo.InvariantCulture) + "%" : "n/a";
            Log.LogMessage(MessageImportance.High,
                $"ModelBuildTasks: {item.Name}: {r.GetProperty("original_bytes").GetInt64():N0} -> {r.GetProperty("compressed_bytes").GetInt64():N0} bytes " +
                $"({r.GetProperty("ratio").GetDouble().ToString("0.00", CultureInfo.InvariantCulture)}x), validation accuracy {P("baseline_accuracy")} -> {P("final_accuracy")}, test {P("test_accuracy")}; " +
                $"report: {Path.ChangeExtension(item.Report, ".html")}");
        }
        catch (Exception e) when (e is IOException or JsonException or KeyNotFoundException)
        {
            Log.LogMessage(MessageImportance.High, $"ModelBuildTasks: {item.Name}: report: {item.Report}");
        }
    }

    void Error(string code, string file, string message) => Log.LogError(null, code, null, file, 0, 0, 0, 0, message);

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

using System.Diagnostics;
using System.Globalization;
using ModelBuildTasks.Graph;

namespace ModelBuildTasks.FineTuning;

/// <summary>One fine-tuning run.</summary>
/// <param name="TrainData">Labelled training DATASET.</param>
/// <param name="Epochs">Epochs (0 with <paramref name="Seconds"/> for a time budget only).</param>
/// <param name="Seconds">Wall-clock budget in seconds, or null.</param>
/// <param name="Preprocess">The preprocessing spec (as for the validation data).</param>
/// <param name="LearningRate">Initial learning rate (cosine decay).</param>
/// <param name="KeepZeros">Keep zero weights at zero (after pruning).</param>
/// <param name="L1Gamma">Network slimming's sparsity term, lambda * sum |gamma| (0 = off).</param>
/// <param name="Seed">Random seed.</param>
/// <param name="FakeQuantBits">Quantization-aware training on this many bits (IQ ran before), or null.</param>
/// <param name="LayerBits">With <paramref name="FakeQuantBits"/>: layers (by weight name) that train through a narrower grid of their own.</param>
/// <param name="FloatLayers">With <paramref name="FakeQuantBits"/>: layers (by weight name) that quantization keeps float, which train without the grid.</param>
public sealed record FineTuneRun(string TrainData, int Epochs, double? Seconds, string Preprocess, double LearningRate = 1e-3, bool KeepZeros = false, double L1Gamma = 0, int Seed = 1, int? FakeQuantBits = null, IReadOnlyDictionary<string, int>? LayerBits = null, IReadOnlySet<string>? FloatLayers = null);

/// <summary>What one fine-tuning run cost.</summary>
/// <param name="Model">The fine-tuned model.</param>
/// <param name="Seconds">Training seconds, as the add-on measured them.</param>
/// <param name="Threads">libtorch threads the add-on used.</param>
public sealed record FineTuneOutcome(OnnxModel Model, double Seconds, int Threads);

/// <summary>
/// Fine-tunes a model with the training add-on in its own process: the model goes out as an ONNX
/// file and comes back fine-tuned. The engine itself never loads TorchSharp.
/// </summary>
public static class FineTuner
{
    /// <summary>Returns a fine-tuned copy of <paramref name="model"/>.</summary>
    public static FineTuneOutcome Run(OnnxModel model, FineTuneRun run, Action<string>? log = null)
    {
        var start = TrainingTool.Require();
        var folder = Directory.CreateTempSubdirectory("mbt-finetune-").FullName;
        Running[folder] = null;
        var keep = false;
        try
        {
            var input = Path.Combine(folder, "in.onnx");
            var output = Path.Combine(folder, "out.onnx");
            ModelFile.Save(model, input);
            string[] args = ["train", input, "--train-data", run.TrainData, "--epochs", run.Epochs.ToString(CultureInfo.InvariantCulture),
                "--lr", run.LearningRate.ToString("R", CultureInfo.InvariantCulture), "--seed", run.Seed.ToString(CultureInfo.InvariantCulture),
                "--preprocess", run.Preprocess, "-o", output, "--json"];
            foreach (var a in args) start.ArgumentList.Add(a);
            if (run.Seconds is { } seconds) { start.ArgumentList.Add("--seconds"); start.ArgumentList.Add(seconds.ToString("R", CultureInfo.InvariantCulture)); }
            if (run.KeepZeros) start.ArgumentList.Add("--keep-zeros");
            if (run.FakeQuantBits is { } fq) { start.ArgumentList.Add("--fake-quant-bits"); start.ArgumentList.Add(fq.ToString(CultureInfo.InvariantCulture)); }
            foreach (var (weights, bits) in run.LayerBits ?? new Dictionary<string, int>()) { start.ArgumentList.Add("--layer-bits"); start.ArgumentList.Add(Passes.Quantization.LayerNarrowing.Entry(weights, bits)); }
            foreach (var weights in (run.FloatLayers ?? new HashSet<string>()).Order(StringComparer.Ordinal)) { start.ArgumentList.Add("--float-layer"); start.ArgumentList.Add(weights); }
            if (run.L1Gamma > 0) { start.ArgumentList.Add("--l1-gamma"); start.ArgumentList.Add(run.L1Gamma.ToString("R", CultureInfo.InvariantCulture)); }
            start.RedirectStandardOutput = true;
            start.RedirectStandardError = true;
            using var process = Process.Start(start)!;
            Running[folder] = process;
            if (stopping && !process.HasExited) process.Kill(entireProcessTree: true); // started as StopRunning went by
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            process.WaitForExit();
            foreach (var line in stderr.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries)) log?.Invoke(line.TrimEnd());
            // Killed by StopRunning: the process is ending, and what the run was given is not worth keeping.
            if (stopping) throw new OperationCanceledException("fine-tuning was stopped");
            if (process.ExitCode != 0 || !File.Exists(output))
            {
                // A step can fail an hour into a search, inside libtorch: what it was given stays, so it can be run again alone.
                // Not when the add-on refused its input (exit 1 or 2, an MBT error that says why): nothing to look into.
                keep = process.ExitCode is not (1 or 2) && KeepForLater(folder, stderr.Result, [start.FileName, .. start.ArgumentList]);
                var error = stderr.Result.Split('\n').FirstOrDefault(l => l.Contains("error", StringComparison.Ordinal))?.Trim();
                throw new ModelBuildException(ErrorCodes.RuntimeFailure, $"fine-tuning failed (exit code {process.ExitCode}){(error is null ? "" : ": " + error)}" +
                    (keep ? $"; its input model, command line and output are kept in {folder} (in.onnx, command.txt, stderr.txt)" : ""));
            }
            var tuned = ModelFile.Load(output);
            tuned.Metadata.Clear();
            foreach (var (k, v) in model.Metadata) tuned.Metadata[k] = v;
            var (trainSeconds, threads) = Figures(stdout.Result);
            return new FineTuneOutcome(tuned, trainSeconds, threads);
        }
        finally
        {
            Running.TryRemove(folder, out _);
            if (!keep) DeleteFolder(folder);
        }
    }

    // Each run's folder, with its add-on's process once started.
    static readonly System.Collections.Concurrent.ConcurrentDictionary<string, Process?> Running = new();
    static volatile bool stopping;

    // Best effort: StopRunning may have deleted it already, or a file in it may still be open.
    static void DeleteFolder(string folder)
    {
        try
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Left as a killed run's would be.
        }
    }

    /// <summary>
    /// Stops the fine-tuning runs under way and deletes their folders (best effort): for a process that is being stopped
    /// (Ctrl+C, SIGTERM), whose <c>finally</c> blocks will not run. A SIGTERM reaches this process only: its add-on would
    /// train on to the end and leave its folder (twice the model's size) behind.
    /// </summary>
    public static void StopRunning()
    {
        stopping = true;
        foreach (var (folder, process) in Running)
        {
            try
            {
                if (process is { HasExited: false }) process.Kill(entireProcessTree: true);
                process?.WaitForExit(5000);
            }
            catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
            {
                // Already gone.
            }
            DeleteFolder(folder);
        }
    }

    // Writes what the failed step's folder needs to be run again; false (the folder goes) when even that cannot be written.
    static bool KeepForLater(string folder, string stderr, IEnumerable<string> command)
    {
        try
        {
            File.WriteAllText(Path.Combine(folder, "stderr.txt"), stderr);
            File.WriteAllLines(Path.Combine(folder, "command.txt"), command);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    // The add-on's --json summary: training seconds and threads (0 when it cannot be read).
    static (double Seconds, int Threads) Figures(string json)
    {
        try
        {
            using var doc = System.Text.Json.JsonDocument.Parse(json);
            var root = doc.RootElement;
            return (root.TryGetProperty("seconds", out var s) ? s.GetDouble() : 0, root.TryGetProperty("threads", out var t) ? t.GetInt32() : 0);
        }
        catch (System.Text.Json.JsonException) { return (0, 0); }
    }

    /// <summary>
    /// Network slimming's sparsity weight: 1e-4 for plain (VGG-like) nets, 1e-5 when channels are
    /// coupled by residual Adds or dense Concats (ResNet/DenseNet-like), as Liu et al. use.
    /// </summary>
    public static double DefaultL1Gamma(OnnxModel model) =>
        model.Graph.Nodes.Any(n => n.OpType is "Add" or "Concat" && n.Inputs.Count(i => !model.Graph.Initializers.ContainsKey(i)) >= 2) ? 1e-5 : 1e-4;
}

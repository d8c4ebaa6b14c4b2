using System.Diagnostics;
using System.Globalization;
using ModelBuildTasks.Graph;

namespace ModelBuildTasks.FineTuning;

/// <summary>One fine-tuning run.</summary>
/// <param name="TrainData">Labelled training DATASET.</param>
/// <param name="Epochs">Epochs.</param>
/// <param name="Preprocess">The preprocessing spec (as for the validation data).</param>
/// <param name="LearningRate">Initial learning rate (cosine decay).</param>
/// <param name="KeepZeros">Keep zero weights at zero (after pruning).</param>
/// <param name="L1Gamma">Network slimming's sparsity term, lambda * sum |gamma| (0 = off).</param>
/// <param name="Seed">Random seed.</param>
public sealed record FineTuneRun(string TrainData, int Epochs, string Preprocess, double LearningRate = 1e-3, bool KeepZeros = false, double L1Gamma = 0, int Seed = 1);

/// <summary>
/// Fine-tunes a model with the training add-on in its own process: the model goes out as an ONNX
/// file and comes back fine-tuned. The engine itself never loads TorchSharp.
/// </summary>
public static class FineTuner
{
    /// <summary>Returns a fine-tuned copy of <paramref name="model"/>.</summary>
    public static OnnxModel Run(OnnxModel model, FineTuneRun run, Action<string>? log = null)
    {
        var start = TrainingTool.Require();
        var folder = Directory.CreateTempSubdirectory("mbt-finetune-").FullName;
        try
        {
            var input = Path.Combine(folder, "in.onnx");
            var output = Path.Combine(folder, "out.onnx");
            ModelFile.Save(model, input);
            string[] args = ["train", input, "--train-data", run.TrainData, "--epochs", run.Epochs.ToString(CultureInfo.InvariantCulture),
                "--lr", run.LearningRate.ToString("R", CultureInfo.InvariantCulture), "--seed", run.Seed.ToString(CultureInfo.InvariantCulture),
                "--preprocess", run.Preprocess, "-o", output];
            foreach (var a in args) start.ArgumentList.Add(a);
            if (run.KeepZeros) start.ArgumentList.Add("--keep-zeros");
            if (run.L1Gamma > 0) { start.ArgumentList.Add("--l1-gamma"); start.ArgumentList.Add(run.L1Gamma.ToString("R", CultureInfo.InvariantCulture)); }
            start.RedirectStandardOutput = true;
            start.RedirectStandardError = true;
            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            process.WaitForExit();
            foreach (var line in (stdout.Result + stderr.Result).Split('\n', StringSplitOptions.RemoveEmptyEntries)) log?.Invoke(line.TrimEnd());
            if (process.ExitCode != 0 || !File.Exists(output))
            {
                var error = stderr.Result.Split('\n').FirstOrDefault(l => l.Contains("error", StringComparison.Ordinal))?.Trim();
                throw new ModelBuildException(ErrorCodes.RuntimeFailure, $"fine-tuning failed (exit code {process.ExitCode}){(error is null ? "" : ": " + error)}");
            }
            var tuned = ModelFile.Load(output);
            tuned.Metadata.Clear();
            foreach (var (k, v) in model.Metadata) tuned.Metadata[k] = v;
            return tuned;
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>
    /// Network slimming's sparsity weight: 1e-4 for plain (VGG-like) nets, 1e-5 when channels are
    /// coupled by residual Adds or dense Concats (ResNet/DenseNet-like), as Liu et al. use.
    /// </summary>
    public static double DefaultL1Gamma(OnnxModel model) =>
        model.Graph.Nodes.Any(n => n.OpType is "Add" or "Concat" && n.Inputs.Count(i => !model.Graph.Initializers.ContainsKey(i)) >= 2) ? 1e-5 : 1e-4;
}

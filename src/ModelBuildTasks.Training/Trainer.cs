using ModelBuildTasks.Data;
using ModelBuildTasks.Graph;
using ModelBuildTasks.Progress;
using ModelBuildTasks.Training.Native;
using TorchSharp;
using static TorchSharp.torch;
using TorchTensor = TorchSharp.torch.Tensor;

namespace ModelBuildTasks.Training;

/// <summary>An extra term added to the loss each step (network slimming adds lambda * sum |gamma|).</summary>
public delegate TorchTensor ExtraLoss(TorchGraphModule module);

/// <summary>
/// Trains (or fine-tunes) a model in the engine's IR with TorchSharp, then writes the weights back
/// into the same <see cref="OnnxModel"/>. Seeded, batched, with an epoch and/or time budget.
/// </summary>
public static class Trainer
{
    /// <summary>Trains <paramref name="model"/> in place on <paramref name="data"/> (which must be labelled and preprocessed).</summary>
    /// <param name="model">The model; its initializers are updated when the run ends (also when cancelled).</param>
    /// <param name="data">Training images and labels.</param>
    /// <param name="options">Budget, optimizer, schedule, seed.</param>
    /// <param name="masks">0/1 masks by initializer name, kept applied after every step (pruned weights stay zero).</param>
    /// <param name="extraLoss">An extra loss term per step.</param>
    /// <param name="progress">Receives a step count per batch.</param>
    /// <param name="cancel">Stops the run after the current batch.</param>
    public static TrainReport Train(OnnxModel model, ImageDataset data, TrainOptions options,
        IReadOnlyDictionary<string, float[]>? masks = null, ExtraLoss? extraLoss = null,
        IProgress<ProgressUpdate>? progress = null, CancellationToken cancel = default)
    {
        if (data.Labels is not { } labels) throw new ModelBuildException(ErrorCodes.InvalidDataset, "training needs labelled data", data.Source);
        if (options.Epochs < 1 && options.Seconds is null) throw new ArgumentException("give epochs or seconds", nameof(options));
        TorchRuntime.EnsureReady(options.Threads);
        torch.manual_seed(options.Seed);
        var threads = torch.get_num_threads();

        using var module = new TorchGraphModule(model) { FakeQuantBits = options.FakeQuantBits, LayerBits = options.LayerBits, FloatLayers = options.FloatLayers };
        var endsInSoftmax = model.Graph.EndsInSoftmax();
        foreach (var (name, mask) in masks ?? new Dictionary<string, float[]>()) module.SetMask(name, mask);
        var parameters = module.parameters().ToList();
        var statistics = module.BatchNormStatistics;
        using var optimizer = options.Optimizer == OptimizerKind.Adam
            ? (optim.Optimizer)optim.Adam(parameters, options.LearningRate, weight_decay: options.WeightDecay)
            : optim.SGD(parameters, options.LearningRate, options.Momentum, weight_decay: options.WeightDecay, nesterov: true);

        var stepsPerEpoch = (data.Count + options.BatchSize - 1) / options.BatchSize;
        var plannedSteps = Math.Max(1, options.Epochs) * stepsPerEpoch;
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        double Elapsed() => System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds;
        var flipRandom = new Random(options.Seed);
        int step = 0, images = 0, skipped = 0;
        double lossSum = 0;
        int lossCount = 0;
        var stop = false;

        module.train();
        for (var epoch = 0; !stop && (options.Seconds is not null && options.Epochs < 1 || epoch < options.Epochs); epoch++)
        {
            lossSum = 0;
            lossCount = 0;
            var order = DatasetSplit.Permutation(data.Count, options.Seed + epoch);
            for (var start = 0; start < data.Count; start += options.BatchSize)
            {
                if (cancel.IsCancellationRequested || options.Seconds is { } budget && Elapsed() >= budget) { stop = true; break; }
                using var scope = torch.NewDisposeScope();
                var count = Math.Min(options.BatchSize, data.Count - start);
                var (x, y) = Batch(data, labels, order.AsSpan(start, count), options.HorizontalFlip ? flipRandom : null);

                var fraction = options.Seconds is { } s && options.Epochs < 1 ? Elapsed() / s : (double)step / plannedSteps;
                foreach (var group in optimizer.ParamGroups) group.LearningRate = LearningRate(options, fraction);

                optimizer.zero_grad();
                var saved = statistics.Select(t => t.clone()).ToList();
                var output = module.forward(x);
                // A model ending in a Softmax outputs probabilities: cross entropy would softmax them again.
                var loss = endsInSoftmax ? nn.functional.nll_loss(torch.log(output.clamp_min(1e-12f)), y) : nn.functional.cross_entropy(output, y);
                if (extraLoss is not null) loss = loss + extraLoss(module);
                loss.backward();
                // A step with a non-finite loss or gradient would make every weight NaN for good, and its
                // forward pass has already moved the BatchNorm running statistics: such a batch is undone,
                // skipped and counted instead.
                var (lossValue, finite) = LossAndFinite(loss, parameters);
                if (!finite)
                {
                    using (torch.no_grad()) for (var i = 0; i < saved.Count; i++) statistics[i].copy_(saved[i]);
                    skipped++;
                    step++;
                    continue;
                }
                optimizer.step();
                module.ApplyMasks();

                lossSum += lossValue;
                lossCount++;
                step++;
                images += count;
                progress?.Report(new ProgressUpdate("train", step, plannedSteps, "steps"));
            }
        }
        module.eval();
        module.CopyTo(model.Graph);
        var seconds = Elapsed();
        return new TrainReport((double)images / data.Count, step, seconds, images / Math.Max(seconds, 1e-9),
            lossCount > 0 ? lossSum / lossCount : double.NaN, threads, TorchRuntime.Status, skipped);
    }

    // One synchronisation per step: the loss, and whether it and every gradient are finite (the sum of
    // all gradients is not finite when any entry is not).
    static (float Loss, bool Finite) LossAndFinite(TorchTensor loss, IEnumerable<TorchTensor> parameters)
    {
        using var _ = torch.no_grad();
        var value = loss.detach();
        var total = parameters.Select(p => p.grad).OfType<TorchTensor>().Aggregate(value, (sum, g) => sum + g.sum());
        var both = torch.stack([value, total]).data<float>().ToArray();
        return (both[0], float.IsFinite(both[0]) && float.IsFinite(both[1]));
    }

    static double LearningRate(TrainOptions options, double fraction) => options.Schedule switch
    {
        LearningRateSchedule.Cosine => options.LearningRate * 0.5 * (1 + Math.Cos(Math.PI * Math.Clamp(fraction, 0, 1))),
        LearningRateSchedule.Step => options.LearningRate * (fraction < 0.5 ? 1 : fraction < 0.75 ? 0.1 : 0.01),
        _ => options.LearningRate,
    };

    static (TorchTensor X, TorchTensor Y) Batch(ImageDataset data, int[] labels, ReadOnlySpan<int> indices, Random? flip)
    {
        var size = data.ImageSize;
        var pixels = new float[indices.Length * size];
        var targets = new long[indices.Length];
        for (var i = 0; i < indices.Length; i++)
        {
            var image = data.Image(indices[i]);
            var target = pixels.AsSpan(i * size, size);
            image.CopyTo(target);
            if (flip is not null && flip.Next(2) == 1) MirrorRows(target, data.Width);
            targets[i] = labels[indices[i]];
        }
        return (torch.tensor(pixels, [indices.Length, data.Channels, data.Height, data.Width]), torch.tensor(targets));
    }

    static void MirrorRows(Span<float> image, int width)
    {
        for (var row = 0; row < image.Length; row += width) image.Slice(row, width).Reverse();
    }
}

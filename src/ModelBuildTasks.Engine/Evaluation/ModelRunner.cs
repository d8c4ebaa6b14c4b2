using Microsoft.ML.OnnxRuntime;
using ModelBuildTasks.Data;

namespace ModelBuildTasks.Evaluation;

/// <summary>
/// ONNX Runtime over an image classifier: checks that a dataset fits the model's input, runs it in
/// batches (zero-padded to a fixed batch size, the padding never reported) and measures per-image
/// latency. Full graph optimisation unless turned off, sequential execution, and a fixed, reported
/// number of threads, used two ways: a batch is split into that many parts run at once on a session
/// with one intra-op thread (<see cref="RunnerOptions.SplitBatches"/>); a single image runs on that
/// session or on a second one, made when first needed, with that many intra-op threads, whichever is
/// measured faster (why: <c>BatchParts</c> and <c>SingleImageChoice</c>, shared with the shipped runtime).
/// </summary>
public sealed class ModelRunner : IDisposable
{
    // With split batches, `session` has one intra-op thread and runs the parts of a batch at once, and `single`, made
    // on first use, has every thread, for single images when `choice` finds it faster; otherwise (or when nothing splits:
    // the model's batch size is fixed, or its images are so large that a run holds one, whatever batch size was asked for) `session` runs everything on every thread.
    readonly InferenceSession session;
    readonly Lazy<InferenceSession>? single;
    readonly Runtime.SingleImageChoice? choice;
    readonly RunOptions runOptions = new(); // Run(...) with null RunOptions throws in ORT 1.31
    readonly string inputName;
    readonly string outputName;
    readonly long[] inputDims;

    /// <summary>Creates a session over serialized ONNX bytes.</summary>
    /// <param name="onnx">The model.</param>
    /// <param name="options">Session settings.</param>
    /// <param name="displayPath">The model's name in error messages.</param>
    public ModelRunner(byte[] onnx, RunnerOptions? options = null, string? displayPath = null)
    {
        Options = options ?? new RunnerOptions();
        var split = Options.SplitBatches && Options.EffectiveThreads > 1 && !NothingToSplit(onnx, Options);
        session = CreateSession(onnx, split ? 1 : Options.EffectiveThreads, displayPath);
        if (session.InputMetadata.Count != 1)
            throw new ModelBuildException(ErrorCodes.InvalidGraph, $"an image classifier has one input; this model has {session.InputMetadata.Count}", displayPath);
        var (name, meta) = session.InputMetadata.First();
        if (meta.ElementType != typeof(float))
            throw new ModelBuildException(ErrorCodes.InvalidGraph, $"input '{name}' is {meta.ElementType.Name}; only float inputs are supported", displayPath);
        inputName = name;
        inputDims = meta.Dimensions.Select(d => (long)d).ToArray();
        (outputName, var output) = session.OutputMetadata.First();
        OutputDims = output.Dimensions.Select(d => (long)d).ToArray();
        DisplayPath = displayPath;
        if (split)
        {
            single = new Lazy<InferenceSession>(() => CreateSession(onnx, Options.EffectiveThreads, displayPath));
            choice = new Runtime.SingleImageChoice();
        }
    }

    // A fixed batch size, or images so large that a run holds one (a 224x224 model's calibration): a run is never split,
    // so the one-thread session would only take memory. Only the images' size counts, not the configured batch size: a
    // runner asked for batch 1 (single-image latency) still has single images to place on the faster session. Decided
    // from the input's shape in the bytes (OnnxSignature skims them, no copy) before any session is made: a session made
    // only to be replaced would load a 224x224 calibration's model twice, once per candidate. Bytes it cannot read split
    // as usual, and ONNX Runtime reports what is wrong with them.
    static bool NothingToSplit(byte[] onnx, RunnerOptions options) => InputDimsOf(onnx) is { } dims && (dims is [> 0, ..] ||
        dims.Length > 1 && dims.Skip(1).All(d => d > 0) && Runtime.BatchParts.ImagesPerRun(dims.Skip(1).Aggregate(1L, (n, d) => n * d), maxValues: options.MaxBatchValues) == 1);

    /// <summary>Whether the model's one input has a fixed batch size (read from the bytes, no session made): the shipped runtime then runs every image on every thread.</summary>
    internal static bool HasFixedBatch(byte[] onnx) => InputDimsOf(onnx) is [> 0, ..];

    // The one input's dimensions (-1 where symbolic), or null when the bytes cannot be read or hold another number of
    // inputs: ONNX Runtime then reports what is wrong.
    static long[]? InputDimsOf(byte[] onnx)
    {
        IReadOnlyList<Onnx.OnnxSignature.Value> inputs;
        try
        {
            inputs = Onnx.OnnxSignature.Parse(onnx, "model.onnx").Inputs;
        }
        catch (ModelBuildException)
        {
            return null;
        }
        return inputs.Count != 1 ? null : inputs[0].Shape.Select(d => long.TryParse(d, System.Globalization.CultureInfo.InvariantCulture, out var n) ? n : -1).ToArray();
    }

    InferenceSession CreateSession(byte[] onnx, int threads, string? displayPath)
    {
        using var sessionOptions = new SessionOptions
        {
            GraphOptimizationLevel = Options.Optimize ? GraphOptimizationLevel.ORT_ENABLE_ALL : GraphOptimizationLevel.ORT_DISABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };
        try
        {
            return new InferenceSession(onnx, sessionOptions);
        }
        catch (OnnxRuntimeException e)
        {
            throw new ModelBuildException(ErrorCodes.RuntimeFailure, $"ONNX Runtime cannot load the model: {e.Message}", displayPath);
        }
    }

    /// <summary>The session settings in use.</summary>
    public RunnerOptions Options { get; }

    /// <summary>
    /// Intra-op threads single images run on: <see cref="RunnerOptions.EffectiveThreads"/> unless batches are split,
    /// then 1 or that many as measured (<c>SingleImageChoice</c>), or null while that is still being measured.
    /// </summary>
    public int? SingleImageThreads => choice is null ? Options.EffectiveThreads : choice.Threads(Options.EffectiveThreads);

    /// <summary>The model's name in messages.</summary>
    public string? DisplayPath { get; }

    /// <summary>The input's dimensions; -1 marks a symbolic or unknown one (usually the batch).</summary>
    public IReadOnlyList<long> InputDims => inputDims;

    /// <summary>The first output's dimensions; -1 marks a symbolic or unknown one.</summary>
    public IReadOnlyList<long> OutputDims { get; }

    /// <summary>Images per run of images of <paramref name="imageSize"/> values: the model's own batch size when fixed, else the configured one within <see cref="RunnerOptions.MaxBatchValues"/>.</summary>
    public int BatchSize(long imageSize) => inputDims.Length > 0 && inputDims[0] > 0
        ? (int)inputDims[0]
        : Runtime.BatchParts.ImagesPerRun(imageSize, Options.BatchSize, Options.MaxBatchValues);

    /// <summary>Throws <see cref="ErrorCodes.InputShapeMismatch"/> unless one image of <paramref name="data"/> fits the model's input.</summary>
    public void CheckCompatible(ImageDataset data) => CheckCompatible(inputName, inputDims, data);

    /// <summary>Throws <see cref="ErrorCodes.InputShapeMismatch"/> unless one image of <paramref name="data"/> fits an input of <paramref name="inputDims"/> (unknown dimensions negative).</summary>
    /// <param name="inputName">The input's name, for the message.</param>
    /// <param name="inputDims">Its dimensions, the batch first.</param>
    /// <param name="data">The images.</param>
    public static void CheckCompatible(string inputName, long[] inputDims, ImageDataset data)
    {
        var perImage = inputDims.Skip(1).ToArray();
        bool fits = perImage.Length == 3
            ? Matches(perImage[0], data.Channels) && Matches(perImage[1], data.Height) && Matches(perImage[2], data.Width)
            : perImage.All(d => d > 0) && perImage.Aggregate(1L, (n, d) => n * d) == data.ImageSize;
        if (!fits)
        {
            var channelsLast = perImage.Length == 3 && Matches(perImage[0], data.Height) && Matches(perImage[1], data.Width) && Matches(perImage[2], data.Channels);
            throw new ModelBuildException(ErrorCodes.InputShapeMismatch,
                $"the dataset's images are {data.ImageShape} (C x H x W) but the model's input '{inputName}' is [{string.Join(",", inputDims.Select(d => d < 0 ? "N" : d.ToString(System.Globalization.CultureInfo.InvariantCulture)))}]; " +
                (channelsLast
                    ? "an N x H x W x C input is supported when the graph's first operation transposes it to N x C x H x W (as tf2onnx exports); here other operations read it"
                    : $"set a preprocessing that produces the model's input (--preprocess, or the Preprocess metadata in MSBuild), for example {Example(perImage)}"), data.Source);
        }
        static bool Matches(long dim, int size) => dim < 0 || dim == size;
        static string Example(long[] perImage) => perImage is [> 0 and var c, > 0 and var h, > 0 and var w] ? $"resize={h}x{w};channels={c}" : "resize=HxW;channels=3";
    }

    /// <summary>The model's input name.</summary>
    public string InputName => inputName;

    /// <summary>The top-1 class of every image, computed in batches.</summary>
    public int[] PredictTop1(ImageDataset data, IProgress<Progress.ProgressUpdate>? progress = null)
    {
        var predictions = new int[data.Count];
        ForEachBatch(data, [outputName], (start, count, _, logits) =>
        {
            var classes = logits.Length / count;
            for (var i = 0; i < count; i++) predictions[start + i] = ArgMax(logits.Slice(i * classes, classes));
            progress?.Report(new Progress.ProgressUpdate("evaluate", start + count, data.Count, "images"));
        });
        return predictions;
    }

    /// <summary>The first output of every image, image after image, computed in batches.</summary>
    public float[] Outputs(ImageDataset data)
    {
        var all = new List<float>();
        ForEachBatch(data, [outputName], (_, _, _, values) => all.AddRange(values));
        return all.ToArray();
    }

    /// <summary>
    /// Runs every image of <paramref name="data"/> in batches and hands <paramref name="visit"/>, per
    /// batch (or part of a split batch, in image order) and requested output, the first image's index,
    /// the number of images and that output's values for those images (padding rows removed). The
    /// model's input may be requested too: it is then visited with the whole batch's images.
    /// </summary>
    public void ForEachBatch(ImageDataset data, IReadOnlyList<string> outputs, Action<int, int, string, ReadOnlySpan<float>> visit)
    {
        CheckCompatible(data);
        var batchSize = BatchSize(data.ImageSize);
        var fetch = outputs.Where(o => o != inputName).ToArray();
        var batch = new float[BatchRows(batchSize) * data.ImageSize];
        for (var start = 0; start < data.Count; start += batchSize)
        {
            var count = Math.Min(batchSize, data.Count - start);
            data.CopyImages(start, count, batch);
            batch.AsSpan(count * data.ImageSize).Clear(); // a fixed batch size's padding rows
            if (fetch.Length < outputs.Count) visit(start, count, inputName, batch.AsSpan(0, count * data.ImageSize));
            // At batch size 1 every image runs alone, on the session measured faster; otherwise a one-image batch is a
            // dataset's last and runs on the one-thread session.
            if (fetch.Length > 0) Run(batch, count, data.ImageSize, fetch, (first, rows, name, values) => visit(start + first, rows, name, values), alone: batchSize == 1);
        }
    }

    /// <summary>Runs <paramref name="count"/> images and returns the first output (e.g. logits), row after row.</summary>
    public float[] Run(ReadOnlySpan<float> images, int count)
    {
        var perImage = images.Length / count;
        if (BatchRows(count) is var fixedRows && fixedRows < count)
        {
            // A model of a fixed batch size takes that many images per run: more go in runs of it, their outputs in order.
            float[]? all = null;
            for (var first = 0; first < count; first += fixedRows)
            {
                var rows = Math.Min(fixedRows, count - first);
                var part = Run(images.Slice(first * perImage, rows * perImage), rows);
                all ??= new float[part.Length / rows * count];
                part.CopyTo(all, first * (part.Length / rows));
            }
            return all!;
        }
        var batch = new float[BatchRows(count) * perImage];
        images.CopyTo(batch);
        float[]? result = null;
        Run(batch, count, perImage, [outputName], (first, rows, _, values) =>
        {
            result ??= new float[values.Length / rows * count]; // parts come one after another, never at once
            values.CopyTo(result.AsSpan(first * (values.Length / rows)));
        }, alone: count == 1);
        return result!;
    }

    // Runs the first `count` images of `batch` (zero-padded to a fixed batch size) and visits each requested output's
    // rows for those images, with the first image's index and the count: in one run, or split into parts run at once
    // and visited part after part (their outputs kept alive until then, never copied). An image run `alone` (not a
    // dataset's last, one-image batch) runs on the session measured faster for single images.
    void Run(float[] batch, int count, int perImage, IReadOnlyList<string> outputs, Action<int, int, string, ReadOnlySpan<float>> visit, bool alone)
    {
        var parts = choice is null ? 1 : Math.Min(Options.EffectiveThreads, count);
        if (parts == 1)
        {
            var rows = BatchRows(count);
            void RunAll(InferenceSession target)
            {
                using var results = RunOn(target, batch.AsMemory(0, rows * perImage), rows, outputs);
                Visit(results, 0, count, rows, outputs, visit);
            }
            if (alone && choice is not null)
            {
                var turn = choice.Begin();
                RunAll(turn.EveryThread ? single!.Value : session);
                choice.End(turn);
            }
            else RunAll(session);
            return;
        }
        var done = new (int First, int Rows, IDisposableReadOnlyCollection<OrtValue> Results)[parts];
        try
        {
            Runtime.BatchParts.Run(count, parts, (p, first, rows) => done[p] = (first, rows, RunOn(session, batch.AsMemory(first * perImage, rows * perImage), rows, outputs)));
            foreach (var (first, rows, results) in done) Visit(results, first, rows, rows, outputs, visit);
        }
        finally
        {
            foreach (var part in done) part.Results?.Dispose();
        }
    }

    // Visits the `count` images' rows of each output (the padding rows of a fixed batch cut off; an output that is not
    // per image, such as a sum over the batch, comes whole).
    static void Visit(IDisposableReadOnlyCollection<OrtValue> results, int first, int count, int rows, IReadOnlyList<string> outputs, Action<int, int, string, ReadOnlySpan<float>> visit)
    {
        for (var i = 0; i < outputs.Count; i++)
        {
            var all = results[i].GetTensorDataAsSpan<float>();
            visit(first, count, outputs[i], rows == count ? all : all[..(all.Length / rows * count)]);
        }
    }

    IDisposableReadOnlyCollection<OrtValue> RunOn(InferenceSession target, Memory<float> batch, int rows, IReadOnlyList<string> outputs)
    {
        var shape = inputDims.ToArray();
        shape[0] = rows;
        for (var i = 1; i < shape.Length; i++)
            if (shape[i] < 0) throw new ModelBuildException(ErrorCodes.InputShapeMismatch, $"input '{inputName}' has an unknown dimension {i} besides the batch: export the model with its image size fixed (only the batch dynamic, e.g. torch.onnx.export's dynamic_axes={{'input': {{0: 'N'}}}})", DisplayPath);
        try
        {
            using var input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, batch, shape);
            return target.Run(runOptions, [inputName], [input], outputs);
        }
        catch (OnnxRuntimeException e)
        {
            throw new ModelBuildException(ErrorCodes.RuntimeFailure, $"ONNX Runtime failed to run the model: {e.Message}", DisplayPath);
        }
    }

    /// <summary>Per-image latency in milliseconds over single-image runs (after warm-up, and after the single-image session is chosen), one entry per run.</summary>
    public double[] MeasureLatency(ImageDataset data, int samples, int warmup = 5)
    {
        CheckCompatible(data);
        for (var i = 0; i < warmup || SingleImageThreads is null; i++) Run(data.Image(i % data.Count), 1);
        var times = new double[samples];
        for (var i = 0; i < samples; i++) times[i] = TimeOne(data.Image(i % data.Count));
        return times;
    }

    /// <summary>Milliseconds one single-image run takes (per image, when the model's batch is fixed).</summary>
    public double TimeOne(ReadOnlySpan<float> image)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        Run(image, 1);
        return System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds / BatchRows(1);
    }

    int BatchRows(int count) => inputDims.Length > 0 && inputDims[0] > 0 ? (int)inputDims[0] : count;

    static int ArgMax(ReadOnlySpan<float> values)
    {
        var best = 0;
        for (var i = 1; i < values.Length; i++) if (values[i] > values[best]) best = i;
        return best;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        session.Dispose();
        if (single is { IsValueCreated: true }) single.Value.Dispose();
        runOptions.Dispose();
    }
}

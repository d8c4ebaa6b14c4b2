using System.Collections.ObjectModel;
using System.Reflection;
using Microsoft.ML.OnnxRuntime;
using ModelBuildTasks.Container;

namespace ModelBuildTasks.Runtime;

/// <summary>
/// A compressed image model, ready to run: a classifier (<see cref="Predict(ReadOnlySpan{float})"/>,
/// <see cref="TopK"/>, <see cref="Probabilities"/>, <see cref="Logits"/>, and <see cref="PredictImage(string)"/> for image files)
/// or a feature extractor (<see cref="Features(ReadOnlySpan{float})"/>). The container is decoded to ONNX in memory and an
/// ONNX Runtime session is created (with split batches, <see cref="CompressedModelOptions.SplitBatches"/>, a second one
/// with every intra-op thread on the first single image, and single images then run on whichever of the two is measured
/// faster: <see cref="SingleImageThreads"/>); every method may be called from many threads at once.
/// Dispose it to release the native sessions (the generated wrapper's shared instance lives for the process).
/// </summary>
public sealed class CompressedModel : IDisposable
{
    // With split batches, `session` has one intra-op thread and runs the parts of a batch at once, and `single`, made
    // on first use, has every thread, for single images when `choice` finds it faster; otherwise (or when the model's
    // batch size is fixed, so nothing splits) `session` runs everything.
    readonly InferenceSession session;
    readonly Lazy<InferenceSession>? single;
    readonly SingleImageChoice? choice;
    readonly int threads;
    readonly string inputName;
    readonly string outputName;
    readonly long[] inputDims;
    readonly int rowsPerRun;
    // Calls in flight and whether Dispose began: Dispose waits for the calls, so a session is never
    // freed under a running call (which crashed the process), and every later call is refused.
    int calls;
    int disposed;
    readonly long maxImagePixels;

    CompressedModel(ModelContainer container, CompressedModelOptions options)
        : this(container.ToOnnx(), ContainerMetadata.Parse(container.MetadataJson), options)
    {
    }

    CompressedModel(byte[] onnx, ContainerMetadata metadata, CompressedModelOptions options)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(options.IntraOpThreads, "options.IntraOpThreads");
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.MaxImagePixels, "options.MaxImagePixels");
        maxImagePixels = options.MaxImagePixels;
        try
        {
            ImagePreprocessing.Check(metadata.Preprocess);
            if (metadata.ImagePreprocess is { } forImages) ImagePreprocessing.Check(forImages);
        }
        catch (InvalidDataException e)
        {
            throw new ContainerFormatException(e.Message, 64);
        }
        Metadata = metadata;
        threads = options.IntraOpThreads > 0 ? options.IntraOpThreads : Environment.ProcessorCount;
        var split = options.SplitBatches && options.ConfigureSession is null && threads > 1;
        // Every thread is `threads`, set explicitly: ONNX Runtime's own default counts physical cores, not the logical
        // processors (or the container's CPU quota) the parts are cut for and SingleImageThreads reports.
        session = CreateSession(onnx, options, split ? 1 : threads);
        if (split && session.InputMetadata.Count == 1 && session.InputMetadata.First().Value.Dimensions is [> 0, ..])
        {
            session.Dispose(); // a fixed batch size: nothing to split, every image runs on every thread
            session = CreateSession(onnx, options, threads);
            split = false;
        }
        if (split)
        {
            single = new Lazy<InferenceSession>(() => CreateSession(onnx, options, threads));
            choice = new SingleImageChoice();
        }
        (inputName, var input) = session.InputMetadata.First(); // the one input: OnnxSessions.Create checked
        inputDims = input.Dimensions.Select(d => (long)d).ToArray();
        outputName = session.OutputMetadata.First().Key;
        var outputDims = session.OutputMetadata[outputName].Dimensions; // a batch axis, then known sizes: OnnxSessions.Create checked
        InputSize = (int)inputDims.Skip(1).Aggregate(1L, (a, b) => a * b);
        ClassCount = (int)outputDims.Skip(1).Aggregate(1L, (a, b) => a * b);
        rowsPerRun = BatchParts.ImagesPerRun(InputSize); // as the engine's evaluation runs them
    }

    static InferenceSession CreateSession(byte[] onnx, CompressedModelOptions options, int intraOpThreads)
    {
        using var sessionOptions = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        if (intraOpThreads > 0) sessionOptions.IntraOpNumThreads = intraOpThreads;
        try
        {
            options.ConfigureSession?.Invoke(sessionOptions);
        }
        catch (Exception e) when (e is OnnxRuntimeException or EntryPointNotFoundException)
        {
            // EntryPointNotFoundException: an execution provider whose native library this ONNX Runtime package lacks.
            throw new InvalidOperationException($"ONNX Runtime refused a setting ConfigureSession made: {e.Message}" +
                (e is EntryPointNotFoundException ? " (an execution provider needs its own ONNX Runtime package, e.g. Microsoft.ML.OnnxRuntime.Gpu for CUDA)" : ""), e);
        }
        try
        {
            return OnnxSessions.Create(onnx, sessionOptions);
        }
        catch (ContainerFormatException e) when (options.ConfigureSession is not null && LoadsWithDefaults(onnx))
        {
            // The container loads without the app's settings: what ONNX Runtime refused is one of them
            // (an unwritable OptimizedModelFilePath, an execution provider it cannot start), not the file.
            throw new InvalidOperationException($"ONNX Runtime refused the session ConfigureSession set up (the container itself loads): {e.Message}", e);
        }
    }

    static bool LoadsWithDefaults(byte[] onnx)
    {
        try
        {
            using var defaults = new SessionOptions();
            using var session = OnnxSessions.Create(onnx, defaults);
            return true;
        }
        catch (ContainerFormatException)
        {
            return false;
        }
    }

    /// <summary>Loads a container from a stream (read to its end).</summary>
    /// <exception cref="ContainerFormatException">The bytes are not a valid container, or ONNX Runtime cannot create a session for it.</exception>
    /// <exception cref="InvalidOperationException">ONNX Runtime refused a setting made by <see cref="CompressedModelOptions.ConfigureSession"/> (the container loads without it).</exception>
    public static CompressedModel Load(Stream stream, CompressedModelOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        return new(ModelContainer.Read(stream), options ?? new CompressedModelOptions());
    }

    /// <summary>Loads a container held in memory.</summary>
    /// <exception cref="ContainerFormatException">The bytes are not a valid container, or ONNX Runtime cannot create a session for it.</exception>
    /// <exception cref="InvalidOperationException">ONNX Runtime refused a setting made by <see cref="CompressedModelOptions.ConfigureSession"/> (the container loads without it).</exception>
    public static CompressedModel Load(byte[] bytes, CompressedModelOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        return new(ModelContainer.Read(bytes), options ?? new CompressedModelOptions());
    }

    /// <summary>Loads a container embedded in <paramref name="assembly"/> as a manifest resource.</summary>
    /// <exception cref="FileNotFoundException">No resource of that name.</exception>
    public static CompressedModel LoadFromResource(Assembly assembly, string resourceName, CompressedModelOptions? options = null)
    {
        using var stream = Resource(assembly, resourceName);
        try
        {
            return Load(stream, options);
        }
        catch (ContainerFormatException e)
        {
            // A damaged or foreign resource: the app's developer needs to know which assembly and resource, not only the byte.
            throw e.Of($"embedded resource '{resourceName}' of assembly {assembly.GetName().Name}");
        }
    }

    static Stream Resource(Assembly assembly, string resourceName)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        ArgumentException.ThrowIfNullOrEmpty(resourceName);
        return assembly.GetManifestResourceStream(resourceName)
            ?? throw new FileNotFoundException($"assembly {assembly.GetName().Name} has no embedded resource '{resourceName}'");
    }

    /// <summary>
    /// Loads a plain (uncompressed) ONNX model, described by <paramref name="metadata"/> (labels,
    /// preprocessing, output kind) as a container would describe it. The generated class uses this
    /// when compression is disabled (<c>ModelCompressionEnabled=false</c>) and embeds the original model.
    /// </summary>
    /// <exception cref="ContainerFormatException">ONNX Runtime cannot load the model, or it is not an image classifier or feature extractor.</exception>
    /// <exception cref="InvalidOperationException">ONNX Runtime refused a setting made by <see cref="CompressedModelOptions.ConfigureSession"/> (the model loads without it).</exception>
    public static CompressedModel LoadOnnx(byte[] onnx, ContainerMetadata metadata, CompressedModelOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(onnx);
        ArgumentNullException.ThrowIfNull(metadata);
        return new(onnx, metadata, options ?? new CompressedModelOptions());
    }

    /// <summary>Like <see cref="LoadOnnx(byte[], ContainerMetadata, CompressedModelOptions?)"/>, for an ONNX model embedded in <paramref name="assembly"/>.</summary>
    /// <exception cref="FileNotFoundException">No resource of that name.</exception>
    public static CompressedModel LoadOnnxFromResource(Assembly assembly, string resourceName, ContainerMetadata metadata, CompressedModelOptions? options = null)
    {
        using var stream = Resource(assembly, resourceName);
        using var bytes = new MemoryStream();
        stream.CopyTo(bytes);
        try
        {
            return LoadOnnx(bytes.ToArray(), metadata, options);
        }
        catch (ContainerFormatException e)
        {
            throw e.Of($"embedded resource '{resourceName}' of assembly {assembly.GetName().Name}"); // as LoadFromResource says it
        }
    }

    /// <summary>Everything the container says about the model: inputs, outputs, labels, preprocessing, accuracies.</summary>
    public ContainerMetadata Metadata { get; }

    /// <summary>Class names by index (empty when the model has none).</summary>
    public IReadOnlyList<string> Labels => labels ??= Array.AsReadOnly(Metadata.Labels.ToArray());
    ReadOnlyCollection<string>? labels; // a copy: the metadata's list must not be changed through a cast

    /// <summary>The input's dimensions; the first (batch) is -1 when any batch size is accepted.</summary>
    public IReadOnlyList<long> InputShape => Array.AsReadOnly(inputDims);

    /// <summary>Height of an input image, in pixels.</summary>
    public int ImageHeight => inputDims.Length == 4 ? (int)inputDims[2] : throw new InvalidOperationException("the model's input is not [N, C, H, W]");

    /// <summary>Width of an input image, in pixels.</summary>
    public int ImageWidth => inputDims.Length == 4 ? (int)inputDims[3] : throw new InvalidOperationException("the model's input is not [N, C, H, W]");

    /// <summary>
    /// Intra-op threads single images run on: one, or every thread (<see cref="CompressedModelOptions.IntraOpThreads"/>,
    /// else one per logical processor), whichever ran the first single images faster when batches are split; every
    /// thread otherwise. Null while the first single images are still being timed.
    /// </summary>
    public int? SingleImageThreads => choice is null ? threads : choice.Threads(threads);

    /// <summary>Values per image (C x H x W).</summary>
    public int InputSize { get; }

    /// <summary>Output values per image: logits of a classifier, or the length of a feature vector.</summary>
    public int ClassCount { get; }

    /// <summary>Whether the model outputs class scores; false for an embedding or feature map (see <see cref="ContainerMetadata.OutputKind"/>).</summary>
    public bool IsClassifier => Metadata.IsClassifier;

    /// <summary>The output (embedding or feature map, flattened) for one image of <see cref="InputSize"/> values.</summary>
    /// <exception cref="ArgumentException">Not <see cref="InputSize"/> values, or a value that is NaN or infinite.</exception>
    /// <exception cref="ObjectDisposedException">The model was disposed.</exception>
    public float[] Features(ReadOnlySpan<float> image) => Infer(image, 1, nameof(image));

    /// <summary>The outputs of <paramref name="count"/> images laid out one after another, image after image.</summary>
    /// <exception cref="ArgumentException">Not <paramref name="count"/> x <see cref="InputSize"/> values, or a value that is NaN or infinite.</exception>
    /// <exception cref="ObjectDisposedException">The model was disposed.</exception>
    public float[] Features(ReadOnlySpan<float> images, int count) => Run(images, count);

    /// <summary>The raw model outputs (logits) for one image of <see cref="InputSize"/> values.</summary>
    /// <exception cref="ArgumentException">Not <see cref="InputSize"/> values, or a value that is NaN or infinite.</exception>
    /// <exception cref="ObjectDisposedException">The model was disposed.</exception>
    public float[] Logits(ReadOnlySpan<float> image) => Infer(image, 1, nameof(image));

    /// <summary>The top-1 class of one image.</summary>
    /// <exception cref="InvalidOperationException">The model outputs features, not class scores.</exception>
    /// <exception cref="ArithmeticException">The model's output is not finite (an input far outside any image's range).</exception>
    /// <exception cref="ArgumentException">Not <see cref="InputSize"/> values, or a value that is NaN or infinite.</exception>
    /// <exception cref="ObjectDisposedException">The model was disposed.</exception>
    public Prediction Predict(ReadOnlySpan<float> image)
    {
        EnsureClassifier();
        return Ranked(Logits(image), 1)[0];
    }

    /// <summary>The top-1 class of each of <paramref name="count"/> images laid out one after another.</summary>
    /// <exception cref="InvalidOperationException">The model outputs features, not class scores.</exception>
    /// <exception cref="ArithmeticException">The model's output is not finite (an input far outside any image's range).</exception>
    /// <exception cref="ArgumentException">Not <paramref name="count"/> x <see cref="InputSize"/> values, or a value that is NaN or infinite.</exception>
    /// <exception cref="ObjectDisposedException">The model was disposed.</exception>
    public Prediction[] Predict(ReadOnlySpan<float> images, int count)
    {
        EnsureClassifier();
        var logits = Infer(images, count, nameof(images));
        var result = new Prediction[count];
        for (var i = 0; i < count; i++) result[i] = Ranked(logits.AsSpan(i * ClassCount, ClassCount), 1)[0];
        return result;
    }

    /// <summary>The <paramref name="k"/> most likely classes of one image, most likely first (fewer when the model has fewer classes).</summary>
    /// <exception cref="InvalidOperationException">The model outputs features, not class scores.</exception>
    /// <exception cref="ArithmeticException">The model's output is not finite (an input far outside any image's range).</exception>
    /// <exception cref="ArgumentException">Not <see cref="InputSize"/> values, or a value that is NaN or infinite.</exception>
    /// <exception cref="ObjectDisposedException">The model was disposed.</exception>
    public Prediction[] TopK(ReadOnlySpan<float> image, int k)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(k);
        EnsureClassifier();
        return Ranked(Logits(image), k);
    }

    /// <summary>
    /// The probabilities of every class for one image: the softmax of the outputs (they sum to 1), or the outputs
    /// themselves when the model already ends in a Softmax or, one probability per class that need not sum to 1, a
    /// Sigmoid (<see cref="ContainerMetadata.OutputProbabilities"/>);
    /// <see cref="Logits"/> gives the raw outputs.
    /// </summary>
    /// <exception cref="InvalidOperationException">The model outputs features, not class scores.</exception>
    /// <exception cref="ArithmeticException">The model's output is not finite (an input far outside any image's range).</exception>
    /// <exception cref="ArgumentException">Not <see cref="InputSize"/> values, or a value that is NaN or infinite.</exception>
    /// <exception cref="ObjectDisposedException">The model was disposed.</exception>
    public float[] Probabilities(ReadOnlySpan<float> image)
    {
        EnsureClassifier();
        return ToProbabilities(Logits(image));
    }

    /// <summary>
    /// Decodes an image file (PNG, JPEG, BMP, GIF, TGA, PSD, HDR) into one input of <see cref="InputSize"/>
    /// values with the container's preprocessing for image files (<see cref="ContainerMetadata.ImagePreprocess"/>, else <see cref="ContainerMetadata.Preprocess"/>): the
    /// steps the engine applied to image datasets when it measured the accuracy. An image of
    /// another size is resized (bilinear, antialiased when shrinking, as Pillow and torchvision resize) to the model's;
    /// grey (grey PSD files too) and RGB are converted to the model's channels.
    /// </summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">Not a decodable image, one cut short, or one beyond 2^26 pixels; the message names the file.</exception>
    public float[] PreprocessImage(string path) =>
        ImagePreprocessing.FromFile(path, Metadata.ImagePreprocess ?? Metadata.Preprocess, (int)inputDims[1], ImageHeight, ImageWidth, maxImagePixels);

    /// <summary>Like <see cref="PreprocessImage(string)"/>, for an encoded image held in memory (the bytes of a PNG or JPEG file).</summary>
    /// <exception cref="InvalidDataException">Not a decodable image, or one beyond 2^26 pixels.</exception>
    public float[] PreprocessImage(byte[] encodedImage)
    {
        ArgumentNullException.ThrowIfNull(encodedImage);
        return ImagePreprocessing.FromBytes(encodedImage, "the image", Metadata.ImagePreprocess ?? Metadata.Preprocess, (int)inputDims[1], ImageHeight, ImageWidth, maxImagePixels);
    }

    /// <summary>The top-1 class of an image file, preprocessed as the container says (see <see cref="PreprocessImage(string)"/>).</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">Not a decodable image.</exception>
    public Prediction PredictImage(string path)
    {
        ObjectDisposedException.ThrowIf(disposed != 0, this);
        return Predict(PreprocessImage(path));
    }

    /// <summary>The top-1 class of an encoded image held in memory, preprocessed as the container says.</summary>
    /// <exception cref="InvalidDataException">Not a decodable image.</exception>
    public Prediction PredictImage(byte[] encodedImage)
    {
        ObjectDisposedException.ThrowIf(disposed != 0, this);
        return Predict(PreprocessImage(encodedImage));
    }

    /// <summary>Runs <paramref name="count"/> images (none gives an empty result) and returns their logits, image after image.</summary>
    /// <exception cref="ArgumentException">Not <paramref name="count"/> x <see cref="InputSize"/> values, or a value that is NaN or infinite.</exception>
    /// <exception cref="ObjectDisposedException">The model was disposed.</exception>
    public float[] Run(ReadOnlySpan<float> images, int count) => Infer(images, count, nameof(images));

    float[] Infer(ReadOnlySpan<float> images, int count, string parameter)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if ((long)count * ClassCount > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(count), count, $"{count} images give {(long)count * ClassCount} outputs, more than one array holds: run them in smaller batches");
        if (images.Length != (long)count * InputSize)
            throw new ArgumentException($"expected {count} x {InputSize} values, got {images.Length}", parameter);
        // A NaN pixel gave a confident class from the integer model (and NaN scores from a float one): refuse it instead.
        var bad = FirstNonFinite(images);
        if (bad >= 0) throw new ArgumentException($"value {bad % InputSize} of image {bad / InputSize} is {images[bad]}: inputs must be finite", parameter);
        Interlocked.Increment(ref calls);
        try
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref disposed) != 0, this);
            return count == 0 ? [] : InferChecked(images, count);
        }
        finally
        {
            Interlocked.Decrement(ref calls);
        }
    }

    static int FirstNonFinite(ReadOnlySpan<float> values)
    {
        // x - x is 0 for a finite x and NaN otherwise: a vector at a time, then the exact index.
        var vectors = System.Runtime.InteropServices.MemoryMarshal.Cast<float, System.Numerics.Vector<float>>(values);
        var start = vectors.Length * System.Numerics.Vector<float>.Count;
        foreach (var v in vectors)
            if (!System.Numerics.Vector.EqualsAll(v - v, System.Numerics.Vector<float>.Zero)) { start = 0; break; }
        for (var i = start; i < values.Length; i++)
            if (!float.IsFinite(values[i])) return i;
        return -1;
    }

    float[] InferChecked(ReadOnlySpan<float> images, int count)
    {
        var result = new float[count * ClassCount];
        if (choice is null) RunOn(session, images, count, result);
        else if (count == 1)
        {
            var turn = choice.Begin();
            RunOn(turn.EveryThread ? single!.Value : session, images, 1, result);
            choice.End(turn);
        }
        else
        {
            var copy = images.ToArray(); // a span cannot reach the parallel parts
            BatchParts.Run(count, Math.Min(threads, count), (_, first, rows) =>
                RunOn(session, copy.AsSpan(first * InputSize, rows * InputSize), rows, result.AsSpan(first * ClassCount, rows * ClassCount)));
        }
        return result;
    }

    // Runs `count` images on `target` in runs of the model's fixed batch size (zero-padded), or of at most `rowsPerRun`.
    void RunOn(InferenceSession target, ReadOnlySpan<float> images, int count, Span<float> result)
    {
        var fixedBatch = inputDims[0] > 0 ? (int)inputDims[0] : 0;
        var perRun = fixedBatch > 0 ? fixedBatch : Math.Min(count, rowsPerRun);
        using var runOptions = new RunOptions();
        for (var start = 0; start < count; start += perRun)
        {
            var rows = Math.Min(perRun, count - start);
            var runRows = fixedBatch > 0 ? fixedBatch : rows;
            var batch = new float[runRows * InputSize];
            images.Slice(start * InputSize, rows * InputSize).CopyTo(batch);
            var shape = inputDims.ToArray();
            shape[0] = runRows;
            using var input = OrtValue.CreateTensorValueFromMemory(batch, shape);
            using var outputs = target.Run(runOptions, [inputName], [input], [outputName]);
            outputs[0].GetTensorDataAsSpan<float>()[..(rows * ClassCount)].CopyTo(result[(start * ClassCount)..]);
        }
    }

    void EnsureClassifier()
    {
        if (!IsClassifier) throw new InvalidOperationException("this model outputs features, not class scores: use Features()");
    }

    Prediction[] Ranked(ReadOnlySpan<float> logits, int k)
    {
        var probabilities = ToProbabilities(logits);
        var values = logits.ToArray();
        // Stable, so equal scores keep class order (the lower index first, as argmax picks it).
        var ranked = Enumerable.Range(0, values.Length).OrderByDescending(i => values[i]).Take(k).ToArray();
        var result = new Prediction[ranked.Length];
        for (var r = 0; r < ranked.Length; r++)
        {
            var i = ranked[r];
            var label = i < Labels.Count ? Labels[i] : i.ToString(System.Globalization.CultureInfo.InvariantCulture);
            result[r] = new Prediction(i, label, probabilities[i]) { Logit = values[i] };
        }
        return result;
    }

    float[] ToProbabilities(ReadOnlySpan<float> outputs)
    {
        // Finite inputs far beyond any image's range (3e38) overflow a float model to NaN: no score in [0, 1] can be made of them.
        var bad = FirstNonFinite(outputs);
        if (bad >= 0)
            throw new ArithmeticException($"the model's output {bad} is {outputs[bad]}: its input is far outside the range the model was made for (preprocess images as Metadata.Preprocess says)");
        return Metadata.OutputProbabilities ? outputs.ToArray() : Softmax(outputs);
    }

    static float[] Softmax(ReadOnlySpan<float> logits)
    {
        var max = float.NegativeInfinity;
        foreach (var v in logits) max = Math.Max(max, v);
        var result = new float[logits.Length];
        var sum = 0.0;
        for (var i = 0; i < logits.Length; i++) sum += result[i] = (float)Math.Exp(logits[i] - max);
        for (var i = 0; i < result.Length; i++) result[i] = (float)(result[i] / sum);
        return result;
    }

    /// <summary>Releases the ONNX Runtime sessions, once the calls already running have returned; later calls throw <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0) return;
        var wait = new SpinWait();
        while (Volatile.Read(ref calls) != 0) wait.SpinOnce();
        session.Dispose();
        if (single is { IsValueCreated: true }) single.Value.Dispose();
    }
}

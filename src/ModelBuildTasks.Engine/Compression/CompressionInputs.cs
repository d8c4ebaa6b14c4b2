using System.Globalization;
using System.Security.Cryptography;
using ModelBuildTasks.Container;
using ModelBuildTasks.Data;
using ModelBuildTasks.Graph;
using ModelBuildTasks.Shapes;

namespace ModelBuildTasks.Compression;

/// <summary>
/// What a compression starts from, loaded and checked once: the model, its bytes, the resolved
/// preprocessing, the validation (and test) images, and the class names.
/// </summary>
public sealed class CompressionInputs
{
    /// <summary>The model's size in bytes, as given: the ONNX file and any external-data files its weights are in.</summary>
    public required long SourceLength { get; init; }
    /// <summary>The SHA-256 of the ONNX file, as given (the file itself is not kept: a 224x224 model's is 60 MB).</summary>
    public required string SourceSha256 { get; init; }
    /// <summary>The model.</summary>
    public required OnnxModel Model { get; init; }
    /// <summary>
    /// The model re-serialised (what baselines are measured on). Made on each call rather than held: at ResNet-18's
    /// size it is 64 MB that the search, which runs between its first and its last use, has better use for.
    /// </summary>
    public byte[] OriginalOnnx() => OnnxExport.ToBytes(Model);
    /// <summary>The preprocessing of the validation data, with nothing left implicit.</summary>
    public required PreprocessSpec Preprocess { get; init; }
    /// <summary>
    /// The preprocessing the training add-on is given: the scale left to each training set's kind (1/255 for 8-bit pixels,
    /// 1 for floats), as validation's was, unless one was given or validation's floats are pixel values (0..255), when 8-bit
    /// pixels are taken as they are too. Validation's resolved scale divided float training data in 0..1 by 255 again.
    /// </summary>
    public required PreprocessSpec TrainingPreprocess { get; init; }
    /// <summary>
    /// The preprocessing of an 8-bit image file, as the container records it for the app's <c>PredictImage</c>
    /// (<c>image_preprocess</c>, where it differs from <see cref="Preprocess"/>): the
    /// validation data's own for 8-bit data or a given scale; for float data, the scale that maps 0..255 onto their range.
    /// </summary>
    public required PreprocessSpec ImagePreprocess { get; init; }
    /// <summary>Validation images, preprocessed (as they are read when held preprocessed they would be large: <see cref="Preprocessing.Prepare"/>).</summary>
    public required ImageDataset Validation { get; init; }
    /// <summary>Held-out test images if given, preprocessed like <see cref="Validation"/> (2,000 images at 224x224x3 would be 1.2 GB of floats).</summary>
    public ImageDataset? Test { get; init; }
    /// <summary>Class names for the wrapper.</summary>
    public required IReadOnlyList<string> Labels { get; init; }

    /// <summary>Problems with the inputs that do not stop the compression (e.g. disagreeing class names).</summary>
    public IReadOnlyList<ReportWarning> Warnings { get; init; } = [];

    static IEnumerable<ReportWarning> LoadWarnings(string? labelMismatch, OnnxModel model, string? imageScale, string? sizeFixed)
    {
        if (sizeFixed is not null) yield return new ReportWarning(ErrorCodes.InputSizeFixed, sizeFixed);
        if (labelMismatch is not null) yield return new ReportWarning(ErrorCodes.LabelNameMismatch, labelMismatch);
        if (imageScale is not null) yield return new ReportWarning(ErrorCodes.ImageScaleUnknown, imageScale);
        if (model.Metadata.ContainsKey(Passes.ChannelsFirstInput.MetadataKey))
            yield return new ReportWarning(ErrorCodes.InputLayoutConverted,
                "the model's input is N x H x W x C (TensorFlow's layout) and its first operation transposes it; the compressed model takes N x C x H x W, as the generated class documents, so feed it C x H x W images");
        if (model.Metadata.ContainsKey(Passes.PixelInput.MetadataKey))
            yield return new ReportWarning(ErrorCodes.InputTypeConverted,
                "the model's input is uint8 and only Casts to float read it; the compressed model takes the same pixel values as floats (0..255 for 8-bit images), as the generated class documents, so feed it floats");
    }

    // An app's image files are 8-bit: float data in 0..1 were 8-bit pixels over 255 (torchvision's ToTensor), in 0..255
    // the pixels themselves, and a scale given for float data applies after that (scale=1 on data in 0..1 is 1/255 for an
    // image file); any other range was normalised in a way only the user knows, so it is said rather than guessed.
    static (PreprocessSpec Spec, string? Warning) ImageSpec(PreprocessSpec requested, ImageDataset raw)
    {
        if (raw.EightBit) return (requested.Resolved(eightBit: true), null);
        var given = requested.Scale ?? 1f;
        var pixels = raw.Pixels;
        var (min, max) = pixels.Length == 0 ? (0f, 0f) : (pixels.Min(), pixels.Max());
        if (min >= 0 && max <= 1) return (requested with { Scale = given / 255f }, null);
        if (min >= 0 && max <= 255) return (requested with { Scale = given }, null);
        return (requested.Resolved(eightBit: false),
            $"the validation data are floats from {min:G4} to {max:G4}, not 8-bit pixels (0..255) or pixels over 255 (0..1): an image file given to the class's PredictImage "
            + $"would be scaled by {given.ToString("G4", CultureInfo.InvariantCulture)}, which is not how these data were made. Give the preprocessing from 8-bit pixels (--preprocess \"scale=1/255;mean=...;std=...\", MSBuild: Preprocess) "
            + "with the data as 8-bit images, or feed the class preprocessed floats only");
    }

    /// <summary>Class names given for a model must be as many as its classes (when its output says how many).</summary>
    public static void CheckLabelCount(IReadOnlyList<string> labels, OnnxModel model, string modelPath)
    {
        if (LabelRange.ClassCount(model) is { } n && labels.Count != n)
            throw new ModelBuildException(ErrorCodes.InvalidSetting, $"--labels names {labels.Count} classes, the model's output has {n}", modelPath);
    }

    /// <summary>Loads and checks everything; throws <see cref="ModelBuildException"/> on bad input.</summary>
    public static CompressionInputs Load(string modelPath, string dataPath, string? testDataPath, CompressionSettings settings)
    {
        var sourceBytes = Onnx.OnnxModelFile.ReadBytes(modelPath); // hashed for the report and parsed, read once
        var model = ModelFile.Load(sourceBytes, modelPath);
        var shapes = ShapeInference.Infer(model.Graph);
        var unsupported = shapes.Unsupported;
        if (unsupported.Count > 0)
            throw new ModelBuildException(ErrorCodes.UnsupportedOperator,
                "the model uses operators the engine does not support: " + string.Join(", ", unsupported.Select(u => $"{u.OpType} (node '{u.NodeName}')")), modelPath);

        // Every reader of outputs (scoring, the runtime, the generated class) takes the first axis as the batch.
        var inputDims = model.Graph.Inputs[0].Shape?.Dims;
        var outputDims = model.Graph.Outputs[0].Shape?.Dims ?? (shapes.Values.TryGetValue(model.Graph.Outputs[0].Name, out var inferred) ? inferred.Shape?.Dims : null);
        if (inputDims is { Count: > 0 } && outputDims is not null
            && (outputDims.Count == 0 || outputDims[0].IsKnown && outputDims[0].Value != (inputDims[0].IsKnown ? inputDims[0].Value : 1)))
            throw new ModelBuildException(ErrorCodes.InvalidGraph,
                $"the model's output [{string.Join(",", outputDims)}] has no batch axis first (its input is [{string.Join(",", inputDims)}]): export it with one, e.g. [1{string.Concat(outputDims.Select(d => "," + d))}]", modelPath);

        // A model already quantized (a container, or an exported or third-party int8 ONNX) has no float weights left to
        // quantize, slim or prune: say so, rather than fail inside a pass that looks for them.
        if (model.Graph.Nodes.FirstOrDefault(n => n.OpType is "DequantizeLinear" or "QuantizeLinear" or "QLinearConv" or "QLinearMatMul" or "ConvInteger" or "MatMulInteger" or "DynamicQuantizeLinear") is { } quantized)
            throw new ModelBuildException(ErrorCodes.UnsupportedOperator,
                $"the model is already quantized ({quantized.OpType}, node '{quantized.Name}'): compress the float (fp32) model it was made from", modelPath);

        var requested = Passes.PixelInput.Requested(settings.Preprocess, model);
        var raw = DatasetLoader.LoadRaw(dataPath, requested.Resize, requested.Channels);
        if (settings.MaxValidationImages > 0 && settings.MaxValidationImages < raw.Count) raw = raw.Subset(Enumerable.Range(0, settings.MaxValidationImages).ToArray());
        var spec = requested.Resolved(raw.EightBit);
        var (forImages, imageScaleWarning) = ImageSpec(requested, raw);
        // Each dataset is prepared by its own kind: an 8-bit test set beside float validation data takes the images' scale.
        PreprocessSpec SpecFor(ImageDataset data) => data.EightBit ? forImages : requested.Resolved(false);
        var stored = LabelNames.Of(model);
        // The model's class order (its names, or the ones given), where the data names the same classes in another order.
        var order = settings.Labels ?? stored;
        // Fine-tuning's add-on aligns its training data to the model's own names: it must see the order validation is scored in.
        if (settings.Labels is { } names && !names.Any(l => l.Contains(','))) model.Metadata["labels"] = string.Join(",", names);
        // Sizes the model leaves open are fixed first: the class count below reads the output's.
        var prepared = Preprocessing.Prepare(raw, spec);
        var sizeFixed = SymbolicSizes.FixInput(model, prepared);
        SymbolicSizes.FixOutputs(model);
        var classes = LabelRange.ClassCount(model);
        var validation = LabelNames.Align(prepared, order, classes);
        // A model without names is scored in validation's class order: the add-on aligns its training folders to the same names
        // (it numbered them by position, so a training set missing one class trained every later class as the one before it).
        if (order is null && validation.ClassNames is { } folders && !folders.Any(l => l.Contains(','))) model.Metadata["labels"] = string.Join(",", folders);
        var test = testDataPath is null ? null : DatasetLoader.LoadRaw(testDataPath, spec.Resize, spec.Channels) is var testRaw
            ? LabelNames.Align(Preprocessing.Prepare(testRaw, SpecFor(testRaw)), order, classes) : null;
        if (settings.Labels is { } given) CheckLabelCount(given, model, modelPath);
        LabelRange.Check(validation, classes);
        if (test is not null)
        {
            LabelRange.Check(test, classes);
            // Before the search, not after it: test images that preprocess to another shape than validation's.
            if (test.ImageShape != validation.ImageShape)
                throw new ModelBuildException(ErrorCodes.InputShapeMismatch, $"the test images preprocess to {test.ImageShape} (C x H x W), the validation images to {validation.ImageShape}", testDataPath);
        }
        var mismatch = settings.Labels is null ? LabelNames.Mismatch(stored, validation.ClassNames, "pass --labels (MSBuild: Labels) to use the dataset's") : null;
        return new CompressionInputs
        {
            Warnings = [.. LoadWarnings(mismatch, model, imageScaleWarning, sizeFixed)],
            // A model's weights kept in sidecar files (ONNX external data) are part of its size: the files the
            // MSBuild task also fingerprints and lists for the IDE (one reading of them, OnnxSignature's).
            SourceLength = sourceBytes.Length + (Container.ModelContainer.HasMagic(sourceBytes) ? 0
                : Onnx.OnnxSignature.Parse(sourceBytes, modelPath).ExternalDataFiles.Sum(file => File.Exists(file) ? new FileInfo(file).Length : 0)),
            SourceSha256 = Convert.ToHexStringLower(SHA256.HashData(sourceBytes)),
            Model = model,
            Preprocess = spec,
            ImagePreprocess = forImages,
            TrainingPreprocess = requested.Scale is null && forImages.Scale == 1f ? requested with { Scale = 1f } : requested,
            Validation = validation,
            Test = test,
            Labels = settings.Labels
                ?? stored
                ?? validation.ClassNames
                ?? [],
        };
    }

    /// <summary>The container metadata of a compressed <paramref name="model"/>.</summary>
    /// <param name="model">The compressed model.</param>
    /// <param name="chosen">What the compression chose.</param>
    /// <param name="accuracy">Measured figures.</param>
    /// <param name="classifier">Whether the output is class scores (else features: no labels).</param>
    public ContainerMetadata Metadata(OnnxModel model, IReadOnlyDictionary<string, string> chosen, AccuracyFigures accuracy, bool classifier) => new()
    {
        Inputs = Describe(model, model.Graph.Inputs),
        Outputs = Describe(model, model.Graph.Outputs),
        OutputKind = classifier ? ContainerMetadata.Classes : ContainerMetadata.Features,
        OutputProbabilities = classifier && Model.Graph.EndsInProbabilities(), // the original's graph: quantization may follow the Softmax with Q/DQ
        Labels = classifier ? Labels : [],
        Preprocess = Preprocess.ToString(),
        ImagePreprocess = ImagePreprocess.ToString() is var forImages && forImages != Preprocess.ToString() ? forImages : null,
        Compression = new SortedDictionary<string, string>(chosen.ToDictionary(kv => kv.Key, kv => kv.Value), StringComparer.Ordinal),
        Accuracy = accuracy,
        SourceSha256 = SourceSha256,
        EngineVersion = Compressor.EngineVersion,
    };

    static IReadOnlyList<TensorDescription> Describe(OnnxModel model, IEnumerable<ValueInfo> values)
    {
        var inferred = ShapeInference.Infer(model.Graph).Values;
        return values.Select(v =>
        {
            var info = v.Shape is null && inferred.TryGetValue(v.Name, out var i) ? i : v;
            return new TensorDescription(v.Name, ElementTypes.Name(info.Type), info.Shape?.Dims.Select(d => d.IsKnown ? d.ToString() : d.Symbol ?? "N").ToArray() ?? []);
        }).ToList();
    }
}

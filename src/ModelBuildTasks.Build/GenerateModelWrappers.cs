using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;
using ModelBuildTasks.Codegen;
using ModelBuildTasks.Container;
using ModelBuildTasks.Data;
using ModelBuildTasks.Onnx;

namespace ModelBuildTasks.Build;

/// <summary>
/// Generates each <c>CompressModel</c> item's class from the model's signature alone, in
/// milliseconds and without the engine: for design-time builds before any compression (so the IDE
/// knows the class at once), and for builds with <c>ModelCompressionEnabled=false</c>, where the
/// original ONNX model is embedded and the class runs it. The class has the same members as the
/// compressed one, so switching compression on or off never breaks the app's code.
/// </summary>
public sealed class GenerateModelWrappers : Microsoft.Build.Utilities.Task
{
    /// <summary>The <c>CompressModel</c> items, with their metadata.</summary>
    [Required] public ITaskItem[] Models { get; set; } = [];

    /// <summary>The folder for outputs (under obj/).</summary>
    [Required] public string OutputDirectory { get; set; } = "";

    /// <summary>The project's folder; relative data paths are resolved against it.</summary>
    [Required] public string ProjectDirectory { get; set; } = "";

    /// <summary>The file-name suffix of the generated source (<c>.designtime.g.cs</c> or <c>.uncompressed.g.cs</c>).</summary>
    [Required] public string Suffix { get; set; } = "";

    /// <summary>Whether the build embeds the model file itself (<c>ModelCompressionEnabled=false</c>), which then must hold its weights.</summary>
    public bool EmbedsModel { get; set; }

    /// <summary>
    /// Design time: an item compressed before keeps its last compressed class (<c>NAME/NAME.g.cs</c>), so none is
    /// generated for it; the items are still checked against each other (MBT1302, MBT1303), as in every build.
    /// </summary>
    public bool SkipCompressed { get; set; }

    /// <summary>The items with <c>Wrapper</c> (the source) and <c>ResourceName</c> (for the original model) metadata.</summary>
    [Output] public ITaskItem[] Outputs { get; set; } = [];

    /// <inheritdoc />
    public override bool Execute()
    {
        // Two items writing one folder or one class fail here as in a compressing build, not as CS0101 in generated code.
        ItemCollisions.Report(Models.Select(m => ItemCollisions.Of(m, OutputDirectory)).ToList(),
            (code, file, message) => Log.LogError(null, code, null, file, 0, 0, 0, 0, message));
        if (Log.HasLoggedErrors) return false;
        var outputs = new List<ITaskItem>();
        foreach (var model in Models)
        {
            var path = model.GetMetadata("FullPath");
            var name = Path.GetFileNameWithoutExtension(path);
            if (SkipCompressed && File.Exists(Path.Combine(OutputDirectory, name, name + ".g.cs"))) continue;
            try
            {
                outputs.Add(Generate(model, path));
            }
            catch (ModelBuildException e)
            {
                Log.LogError(null, e.Code, null, e.File ?? path, 0, 0, 0, 0, e.Message);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Log.LogError(null, ErrorCodes.FileSystemRefused, null, OutputDirectory, 0, 0, 0, 0, $"the class for {Path.GetFileName(path)} cannot be made (its inputs read, or its file written under ModelCompressionIntermediateDir): {e.Message}");
            }
        }
        Outputs = outputs.ToArray();
        return !Log.HasLoggedErrors;
    }

    ITaskItem Generate(ITaskItem model, string path)
    {
        var name = Path.GetFileNameWithoutExtension(path);
        string Meta(string key) => model.GetMetadata(key).Trim();
        var signature = OnnxSignature.Read(path);
        if (signature.Inputs.Count != 1 || signature.Outputs.Count < 1)
            throw new ModelBuildException(ErrorCodes.InvalidGraph, $"an image model has one input and an output; this one has {signature.Inputs.Count} inputs and {signature.Outputs.Count} outputs", path);
        if (EmbedsModel && signature.ExternalDataFiles.Count > 0)
            throw new ModelBuildException(ErrorCodes.InvalidExternalData,
                $"the model keeps its weights in {string.Join(", ", signature.ExternalDataFiles.Select(Path.GetFileName))} (ONNX external data), and ModelCompressionEnabled=false embeds the model file alone, which the app could not load: save the model with its weights inside, or compress it (the container holds them)", path);
        // The engine makes a channels-last input channels-first; embedded as it is, the class would feed it C x H x W images.
        if (EmbedsModel && signature.ChannelsLastInput)
            throw new ModelBuildException(ErrorCodes.InputShapeMismatch,
                $"the model's input is [{string.Join(",", signature.Inputs[0].Shape)}], N x H x W x C (TensorFlow's layout), and ModelCompressionEnabled=false embeds the model as it is, while the class feeds C x H x W images: compress it (the engine converts the layout), or export it channels-first", path);
        // The engine makes a uint8 or float16 input (and a float16 output) float; embedded as it is, the class would feed it floats.
        if (EmbedsModel && (signature.Inputs[0].ElementType != 1 || signature.Outputs[0].ElementType != 1))
        {
            var (side, value) = signature.Inputs[0].ElementType != 1 ? ("input", signature.Inputs[0]) : ("output", signature.Outputs[0]);
            // Compressing helps only where the engine converts: a uint8 input only Casts to float read, and float16.
            var converts = value.ElementType == 10 || side == "input" && signature.PixelInput;
            throw new ModelBuildException(side == "input" ? ErrorCodes.InputShapeMismatch : ErrorCodes.InvalidGraph,
                $"the model's {side} is {TypeName(value.ElementType)}, and ModelCompressionEnabled=false embeds the model as it is, while the class " + (side == "input" ? "feeds" : "reads") + " floats: "
                + (converts ? "compress it (the engine makes a uint8 input cast to float, and a float16 model, float), or export it in float" : "export it in float"), path);
        }
        // The engine fixes a symbolic image size from the validation images; embedded as it is, the app could not run it.
        var inputShape = signature.ChannelsLastInput && signature.Inputs[0].Shape is [var n, var h, var w, var c] ? [n, c, h, w] : signature.Inputs[0].Shape;
        var unknownSize = inputShape.Skip(1).Any(d => !long.TryParse(d, out var size) || size <= 0);
        if (EmbedsModel && unknownSize)
            throw new ModelBuildException(ErrorCodes.InputShapeMismatch,
                $"the model's input is [{string.Join(",", inputShape)}], of no fixed image size, and ModelCompressionEnabled=false embeds the model as it is, which the app could not run: export it with its image size fixed (only the batch dynamic), or compress it (the compressed model takes the validation images' size)", path);
        // The app reads each image's outputs by the declared size; compressing takes it from shape inference.
        if (EmbedsModel && signature.Outputs[0].Shape is var outputShape && (outputShape.Count == 0 || outputShape.Skip(1).Any(d => !long.TryParse(d, out var size) || size <= 0)))
            throw new ModelBuildException(ErrorCodes.InvalidGraph,
                $"the model's output is [{string.Join(",", outputShape)}], of no fixed size per image, and ModelCompressionEnabled=false embeds the model as it is, which the app could not read: export it with its output size fixed, or compress it (the compressed model's output takes the size shape inference finds)", path);
        // Design time, before the first compression: the class's members are what IntelliSense needs, and a size unknown
        // until the validation images give it is 1 there; the build's class takes their size.
        if (unknownSize) inputShape = [inputShape[0], .. inputShape.Skip(1).Select(d => long.TryParse(d, out var size) && size > 0 ? d : "1")];
        // Design time: the engine makes a float16 model, and a uint8 input cast to float, float.
        TensorDescription Describe(OnnxSignature.Value v) => new(v.Name, v.ElementType is 1 or 10 || signature.PixelInput && v.Name == signature.Inputs[0].Name ? "float" : $"onnx-type-{v.ElementType}", v.Shape);
        var output = signature.Outputs[0];
        // Design time, before the first compression: an output of open class count ([N, C]) is the classes the compressed
        // class will count (compression takes the size inference finds), as many as the labels known, or a placeholder.
        if (output.Shape is [var batch, var open] && !long.TryParse(open, out _))
            output = output with { Shape = [batch, Math.Max(2, Labels(model, signature).Count).ToString(System.Globalization.CultureInfo.InvariantCulture)] };
        // The engine's rule (MetricChoice): features for the cosine metric and for outputs that are not one score per class.
        var metric = Meta("Metric").ToLowerInvariant();
        var classifier = metric != "cosine" && ModelBuildTasks.Evaluation.ClassScores.Count(output.Shape, asked: metric is "accuracy" or "agreement") > 0;
        var requested = PreprocessSpec.Requested(Meta("Preprocess") is { Length: > 0 } p ? p : null, signature.Metadata.GetValueOrDefault("preprocess"), signature.PixelInput);
        var metadata = new ContainerMetadata
        {
            Inputs = [Describe(signature.Inputs[0] with { Shape = inputShape })],
            Outputs = [Describe(output)],
            OutputKind = classifier ? ContainerMetadata.Classes : ContainerMetadata.Features,
            OutputProbabilities = classifier && signature.EndsInProbabilities,
            Labels = classifier ? Labels(model, signature) : [],
            // Resolved as the engine resolves it for 8-bit images (the data are not read here): scale=1/255 unless one was
            // given, the compressed class's constant for 8-bit validation data (for float data it states the data's own).
            Preprocess = requested.Resolved(eightBit: true).ToString(),
            // The full package version, as the engine writes it (prerelease kept, build metadata dropped).
            EngineVersion = (System.Reflection.CustomAttributeExtensions.GetCustomAttribute<System.Reflection.AssemblyInformationalVersionAttribute>(typeof(GenerateModelWrappers).Assembly)?.InformationalVersion ?? "").Split('+')[0],
        };
        var className = ItemCollisions.ClassNameOf(model);
        var resourceName = $"ModelBuildTasks.{name}.onnx";
        var source = WrapperGenerator.Generate(new WrapperSpec(className, Meta("Namespace"), resourceName, Path.GetFileName(path), metadata, Uncompressed: true));
        var folder = Path.Combine(OutputDirectory, name);
        Directory.CreateDirectory(folder);
        var wrapper = Path.Combine(folder, name + Suffix);
        // Unchanged text keeps its timestamp: the IDE and the compiler see nothing new. Embedded, a model newer than the class
        // (touched by a checkout) is compiled again anyway, as a resource; the class is then made as new, or the IDE's
        // up-to-date check, which compares the two, would find the project out of date forever.
        if (!File.Exists(wrapper) || File.ReadAllText(wrapper) != source) File.WriteAllText(wrapper, source);
        else if (EmbedsModel && File.GetLastWriteTimeUtc(wrapper) < File.GetLastWriteTimeUtc(path)) File.SetLastWriteTimeUtc(wrapper, DateTime.UtcNow);
        // Literal values (SetMetadata takes MSBuild-escaped text): a ';' or '%' in the path stays part of it.
        ITaskItem2 item = new TaskItem(model);
        item.SetMetadataValueLiteral("Wrapper", wrapper);
        item.SetMetadataValueLiteral("ResourceName", resourceName);
        return item;
    }

    // As the engine chooses them: the item's Labels, else the model's, else the class folders of an image-folder dataset.
    IReadOnlyList<string> Labels(ITaskItem model, OnnxSignature signature)
    {
        static string[] Split(string text) => text.Split(',').Select(l => l.Trim()).ToArray();
        if (model.GetMetadata("Labels") is { Length: > 0 } labels)
        {
            var given = Split(labels);
            // The engine's check: a class list of another length names the wrong classes.
            if (given.Any(l => l.Length == 0)) throw new ModelBuildException(ErrorCodes.InvalidSetting, "Labels has an empty class name", model.GetMetadata("FullPath"));
            if (signature.Outputs[0].Shape is [_, var c] && int.TryParse(c, out var classes) && given.Length != classes)
                throw new ModelBuildException(ErrorCodes.InvalidSetting, $"Labels names {given.Length} classes, the model's output has {classes}", model.GetMetadata("FullPath"));
            return given;
        }
        if (signature.Metadata.GetValueOrDefault("labels") is { Length: > 0 } stored) return Split(stored);
        var data = model.GetMetadata("ValidationData").Trim();
        if (data.Length > 0 && Path.GetFullPath(Path.Combine(ProjectDirectory, data)) is var folder && Directory.Exists(folder))
            return Directory.GetDirectories(folder).Select(Path.GetFileName).OfType<string>().Where(n => !n.StartsWith('.')).Order(StringComparer.Ordinal).ToArray();
        return [];
    }

    static string TypeName(int elementType) => Graph.ElementTypes.Name((Graph.ElementType)elementType);
}

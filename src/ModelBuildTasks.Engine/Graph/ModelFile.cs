using ModelBuildTasks.Container;
using ModelBuildTasks.Onnx;
using ModelBuildTasks.Onnx.Proto;
using ModelBuildTasks.Packaging;

namespace ModelBuildTasks.Graph;

/// <summary>Loads and saves models in the IR form. Loading accepts ONNX files and <c>.cmodel</c> containers alike.</summary>
public static class ModelFile
{
    /// <summary>
    /// Reads an ONNX file (with any external data) or a container into the IR. A model in float16 becomes
    /// the same model in float (<see cref="Passes.Float16ToFloat"/>), weights reached through a Constant, Identity or
    /// Transpose node plain initializers (<see cref="Passes.ConstantWeights"/>), a weight shared by two layers one copy per
    /// layer (<see cref="Passes.TiedWeights"/>), and an N x H x W x C input that the
    /// graph first transposes becomes N x C x H x W (<see cref="Passes.ChannelsFirstInput"/>).
    /// </summary>
    public static OnnxModel Load(string path) => Load(OnnxModelFile.ReadBytes(path), path);

    /// <summary>As <see cref="Load(string)"/>, from the file's bytes already read (<see cref="OnnxModelFile.ReadBytes"/>).</summary>
    public static OnnxModel Load(byte[] bytes, string path)
    {
        var model = OnnxImport.ToModel(LoadProto(bytes, path), path);
        Passes.Float16ToFloat.Apply(model);
        Passes.ConstantWeights.Fold(model.Graph);
        Passes.ConstantSubtraction.Apply(model.Graph);
        Passes.TiedWeights.Untie(model.Graph);
        Passes.UnusedInitializers.Remove(model.Graph);
        GraphValidation.Check(model.Graph, path);
        // A uint8 input may be cast before or after its Transpose to channels first.
        Passes.PixelInput.Apply(model);
        if (Passes.ChannelsFirstInput.Apply(model)) Passes.PixelInput.Apply(model);
        // Last: it infers shapes, which need a checked graph and read through the input's Cast only once it is gone.
        Passes.ComputedReshapes.Apply(model.Graph);
        return model;
    }

    /// <summary>Whether loading changed the model's interface (a channels-last, float16 or uint8 input): its file's bytes are then not what the engine runs.</summary>
    public static bool WasConverted(OnnxModel model) =>
        model.Metadata.ContainsKey(Passes.ChannelsFirstInput.MetadataKey) || model.Metadata.ContainsKey(Passes.Float16ToFloat.MetadataKey)
        || model.Metadata.ContainsKey(Passes.PixelInput.MetadataKey);

    /// <summary>Reads an ONNX file or a container as an ONNX protobuf message.</summary>
    /// <remarks>A file named <c>.cmodel</c> is read as a container even without its magic: a damaged one is a bad container (MBT1006), not a bad ONNX model.</remarks>
    public static ModelProto LoadProto(string path) => LoadProto(OnnxModelFile.ReadBytes(path), path);

    static ModelProto LoadProto(byte[] bytes, string path) =>
        OnnxModelFile.Load(bytes, path, (read, display) => ModelContainer.HasMagic(read) || IsContainerName(path) ? ContainerPackaging.ToOnnx(read, display) : null);

    /// <summary>Whether the file is named as a container (<c>.cmodel</c>).</summary>
    public static bool IsContainerName(string path) => path.EndsWith(".cmodel", StringComparison.OrdinalIgnoreCase);

    /// <summary>The ONNX bytes of a model file or container, ready for ONNX Runtime.</summary>
    public static byte[] LoadOnnxBytes(string path) => OnnxModelFile.ToBytes(LoadProto(path));

    /// <summary>Writes a model as one self-contained ONNX file, atomically.</summary>
    public static void Save(OnnxModel model, string path) => OnnxModelFile.Save(OnnxExport.ToProto(model), path);
}

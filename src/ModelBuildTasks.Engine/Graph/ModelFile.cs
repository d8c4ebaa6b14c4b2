using ModelBuildTasks.Onnx;

namespace ModelBuildTasks.Graph;

/// <summary>Loads and saves models in the IR form, going through <see cref="OnnxModelFile"/>.</summary>
public static class ModelFile
{
    /// <summary>Reads an ONNX file (with any external data) into the IR.</summary>
    public static OnnxModel Load(string path) => OnnxImport.ToModel(OnnxModelFile.Load(path), path);

    /// <summary>Writes a model as one self-contained ONNX file, atomically.</summary>
    public static void Save(OnnxModel model, string path) => OnnxModelFile.Save(OnnxExport.ToProto(model), path);
}

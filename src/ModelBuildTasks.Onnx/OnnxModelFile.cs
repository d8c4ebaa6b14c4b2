using Google.Protobuf;
using ModelBuildTasks.Onnx.Proto;

namespace ModelBuildTasks.Onnx;

/// <summary>
/// Reads and writes ONNX files. Reading resolves external tensor data into <c>raw_data</c>, so the
/// rest of the engine always sees a self-contained <see cref="ModelProto"/>; fields this schema
/// does not declare are kept as unknown fields and written back unchanged.
/// </summary>
public static class OnnxModelFile
{
    /// <summary>Reads an ONNX file and loads any external data stored beside it.</summary>
    /// <exception cref="ModelBuildException">The file is missing, not ONNX, or its external data is invalid.</exception>
    public static ModelProto Load(string path) => Load(path, null);

    /// <summary>
    /// Reads a model file. <paramref name="unwrap"/> may turn other formats into ONNX bytes first
    /// (the engine passes the <c>.cmodel</c> container reader); it returns null for plain ONNX.
    /// </summary>
    public static ModelProto Load(string path, Func<byte[], string, byte[]?>? unwrap) => Load(ReadBytes(path), path, unwrap);

    /// <summary>The bytes of a model file, with the size limit and errors every reading of a model has.</summary>
    /// <exception cref="ModelBuildException">The file is missing, unreadable or too large.</exception>
    public static byte[] ReadBytes(string path) => File.Exists(path)
        ? InputFile.ReadAllBytes(path, InputFile.MaxBytes, ErrorCodes.ModelNotFound, ErrorCodes.InvalidModel, path)
        : throw ModelBuildException.ModelNotFound(path);

    /// <summary>
    /// Reads a model file from its bytes (<see cref="ReadBytes"/>), for a caller that also needs them (to hash them, say),
    /// so the file is read once; external data is resolved beside <paramref name="path"/>.
    /// </summary>
    public static ModelProto Load(byte[] bytes, string path, Func<byte[], string, byte[]?>? unwrap)
    {
        if (unwrap?.Invoke(bytes, path) is { } onnx) return Parse(onnx, path);
        var model = Parse(bytes, path);
        ExternalData.LoadInto(model, Path.GetDirectoryName(Path.GetFullPath(path))!, path);
        return model;
    }

    /// <summary>Parses ONNX bytes held in memory. External data is not resolved.</summary>
    /// <param name="bytes">The serialized <see cref="ModelProto"/>.</param>
    /// <param name="displayPath">The name used in error messages.</param>
    public static ModelProto Parse(ReadOnlySpan<byte> bytes, string? displayPath = null)
    {
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new ModelBuildException(ErrorCodes.InvalidModel,
                $"not a valid ONNX model (the protobuf data is damaged or truncated: {e.Message})", displayPath);
        }
        Validate(model, displayPath);
        return model;
    }

    /// <summary>Serializes a model to bytes.</summary>
    public static byte[] ToBytes(ModelProto model) => model.ToByteArray();

    /// <summary>Writes a model to <paramref name="path"/> atomically (all weights inline).</summary>
    public static void Save(ModelProto model, string path) =>
        AtomicFile.Write(path, stream => model.WriteTo(stream));

    // Random bytes sometimes parse as protobuf; what makes a file ONNX is the structure.
    static void Validate(ModelProto model, string? displayPath)
    {
        string? problem = null;
        if (!model.HasIrVersion || model.IrVersion <= 0)
            problem = "it has no IR version";
        else if (model.OpsetImport.Count == 0)
            problem = "it imports no operator set";
        else if (model.Graph is null)
            problem = "it has no graph";
        else if (model.Graph.Output.Count == 0)
            problem = "its graph has no outputs";
        if (problem is not null)
            throw new ModelBuildException(ErrorCodes.InvalidModel, $"not a valid ONNX model: {problem}", displayPath);
    }
}

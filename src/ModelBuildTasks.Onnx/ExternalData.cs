using Google.Protobuf;
using ModelBuildTasks.Onnx.Proto;

namespace ModelBuildTasks.Onnx;

/// <summary>
/// Loads tensors whose bytes live in files beside the model (<c>data_location = EXTERNAL</c>).
/// A location must be a relative path that stays inside the model's folder: a model is untrusted
/// input, and must not make us read arbitrary files.
/// </summary>
public static class ExternalData
{
    /// <summary>Replaces every external reference in <paramref name="model"/> with inline <c>raw_data</c>.</summary>
    public static void LoadInto(ModelProto model, string modelFolder, string displayPath)
    {
        var root = Path.GetFullPath(modelFolder);
        // All external tensors together count against one budget: many tensors naming the same big file must not multiply it.
        var budget = InputFile.MaxBytes;
        foreach (var tensor in AllTensors(model.Graph))
        {
            if (tensor.DataLocation != TensorProto.Types.DataLocation.External) continue;
            tensor.RawData = ByteString.CopyFrom(Read(tensor, root, displayPath, ref budget));
            tensor.ExternalData.Clear();
            tensor.ClearDataLocation();
        }
    }

    static byte[] Read(TensorProto tensor, string root, string displayPath, ref long budget)
    {
        string? location = null;
        long offset = 0, length = -1;
        foreach (var entry in tensor.ExternalData)
        {
            switch (entry.Key)
            {
                case "location": location = entry.Value; break;
                case "offset": offset = ParseNumber(entry.Value, "offset", tensor, displayPath); break;
                case "length": length = ParseNumber(entry.Value, "length", tensor, displayPath); break;
            }
        }
        if (string.IsNullOrEmpty(location))
            throw Error(tensor, "has external data without a location", displayPath);
        if (Path.IsPathRooted(location))
            throw Error(tensor, $"has an absolute external data path '{location}'", displayPath);
        var file = Path.GetFullPath(Path.Combine(root, location));
        var rootWithSeparator = root.EndsWith(Path.DirectorySeparatorChar) ? root : root + Path.DirectorySeparatorChar;
        if (!file.StartsWith(rootWithSeparator, StringComparison.Ordinal))
            throw Error(tensor, $"has external data '{location}' outside the model's folder", displayPath);
        if (!File.Exists(file))
            throw Error(tensor, $"has external data '{location}', which does not exist", displayPath);
        // The text stays inside; a symlink (of the file or of a folder on the way) must too.
        if (!InputFile.IsInside(file, root))
            throw Error(tensor, $"has external data '{location}' that links outside the model's folder", displayPath);
        if (offset < 0 || length < -1) throw Error(tensor, "has a negative external data offset or length", displayPath);

        using var stream = InputFile.OpenRegular(file, ErrorCodes.InvalidExternalData, displayPath);
        if (length < 0) length = stream.Length - offset;
        if (offset > stream.Length || length > stream.Length - offset)
            throw Error(tensor, $"reads bytes {offset}..{offset + length} of '{location}', which has only {stream.Length}", displayPath);
        if (length > budget)
            throw Error(tensor, $"has external data larger than the limit of {InputFile.MaxBytes:N0} bytes for a model's tensors", displayPath);
        budget -= length;
        var bytes = new byte[length];
        stream.Position = offset;
        stream.ReadExactly(bytes);
        return bytes;
    }

    static long ParseNumber(string text, string key, TensorProto tensor, string displayPath) =>
        long.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var value)
            ? value
            : throw Error(tensor, $"has an invalid external data {key} '{text}'", displayPath);

    static ModelBuildException Error(TensorProto tensor, string what, string displayPath) =>
        new(ErrorCodes.InvalidExternalData, $"tensor '{tensor.Name}' {what}", displayPath);

    /// <summary>Every tensor of a graph: initializers, sparse initializer parts, and tensors in attributes, recursively.</summary>
    public static IEnumerable<TensorProto> AllTensors(GraphProto? graph)
    {
        if (graph is null) yield break;
        foreach (var t in graph.Initializer) yield return t;
        foreach (var s in graph.SparseInitializer)
        {
            if (s.Values is not null) yield return s.Values;
            if (s.Indices is not null) yield return s.Indices;
        }
        foreach (var node in graph.Node)
        foreach (var attribute in node.Attribute)
        {
            if (attribute.T is not null) yield return attribute.T;
            foreach (var t in attribute.Tensors) yield return t;
            foreach (var sub in AllTensors(attribute.G)) yield return sub;
            foreach (var g in attribute.Graphs)
            foreach (var sub in AllTensors(g)) yield return sub;
        }
    }
}

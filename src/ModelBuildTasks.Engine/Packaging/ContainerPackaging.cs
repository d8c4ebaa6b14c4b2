using Google.Protobuf;
using ModelBuildTasks.Container;
using ModelBuildTasks.Graph;
using ModelBuildTasks.Onnx;

namespace ModelBuildTasks.Packaging;

/// <summary>Turns an IR model into a <c>.cmodel</c> container and back.</summary>
public static class ContainerPackaging
{
    /// <summary>Packs a model and its metadata into container bytes (deterministic).</summary>
    public static byte[] Pack(OnnxModel model, ContainerMetadata metadata)
    {
        var proto = OnnxExport.ToProto(model);
        // The model inside says what the container says: evaluate, export and a second compression read its own entries.
        SetMetadata(proto, "preprocess", metadata.Preprocess);
        if (metadata.Labels.Count > 0 && !metadata.Labels.Any(l => l.Contains(','))) SetMetadata(proto, "labels", string.Join(",", metadata.Labels));
        var graph = proto.Graph;
        proto.Graph = null;
        graph.Initializer.Clear();
        var tensors = model.Graph.Initializers.Values.Select(t => new ContainerTensor(t.Name, (int)t.Type, t.Dims, t.Data)).ToList();
        // The first candidate is packed early in the search: a model beyond the format's cap is said then, with a code.
        if (tensors.Count > ContainerLimits.MaxTensors)
            throw new ModelBuildException(ErrorCodes.InvalidGraph, $"the model has {tensors.Count:N0} tensors (weights, and the scales and zero points quantization adds), more than a container holds ({ContainerLimits.MaxTensors:N0})");
        return ContainerWriter.Write(metadata.ToJson(), proto.ToByteArray(), graph.ToByteArray(), tensors);
    }

    static void SetMetadata(Onnx.Proto.ModelProto proto, string key, string value)
    {
        if (value.Length == 0) return;
        if (proto.MetadataProps.FirstOrDefault(p => p.Key == key) is { } entry) entry.Value = value;
        else proto.MetadataProps.Add(new Onnx.Proto.StringStringEntryProto { Key = key, Value = value });
    }

    /// <summary>Reads container bytes; damaged or crafted files give <see cref="ErrorCodes.InvalidContainer"/>.</summary>
    public static (ModelContainer Container, ContainerMetadata Metadata) Read(byte[] bytes, string? displayPath = null)
    {
        try
        {
            var container = ModelContainer.Read(bytes);
            return (container, ContainerMetadata.Parse(container.MetadataJson));
        }
        catch (ContainerFormatException e)
        {
            throw new ModelBuildException(ErrorCodes.InvalidContainer, $"not a valid .cmodel container: {e.Message}", displayPath);
        }
    }

    /// <summary>The ONNX bytes a container holds (what the runtime hands to ONNX Runtime).</summary>
    public static byte[] ToOnnx(byte[] bytes, string? displayPath = null)
    {
        var container = Read(bytes, displayPath).Container;
        try
        {
            return container.ToOnnx(); // tensors are decoded here, after the structural checks: a bad code is still a bad container
        }
        catch (ContainerFormatException e)
        {
            throw new ModelBuildException(ErrorCodes.InvalidContainer, $"not a valid .cmodel container: {e.Message}", displayPath);
        }
    }
}

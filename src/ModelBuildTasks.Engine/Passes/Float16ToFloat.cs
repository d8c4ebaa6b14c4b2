using System.Runtime.InteropServices;
using ModelBuildTasks.Graph;

namespace ModelBuildTasks.Passes;

/// <summary>
/// Turns a model that stores or computes in float16 (exported with <c>model.half()</c>, or converted by
/// onnxconverter-common, whose Casts between float and float16 surround every op) into the same model in
/// float: its float16 weights become floats (exactly: every float16 is a float), its inputs and outputs
/// float, and each Cast between float and float16 an Identity. Quantization then starts from the weights
/// the model has, and the app feeds floats as for any other model; the only change is that the original
/// is measured in float rather than float16 arithmetic.
/// </summary>
public static class Float16ToFloat
{
    /// <summary>The metadata key that records the conversion, so reports can say the model was converted.</summary>
    public const string MetadataKey = "converted_from_float16";

    /// <summary>Converts in place; returns whether the model had anything in float16.</summary>
    public static bool Apply(OnnxModel model)
    {
        var graph = model.Graph;
        var halves = graph.Initializers.Values.Where(t => t.Type == ElementType.Float16).ToList();
        var casts = graph.Nodes.Where(n => n.OpType == "Cast" && (n.Domain is "" or "ai.onnx") && n.GetInt("to", 0) is (long)ElementType.Float16).ToList();
        var constants = graph.Nodes.Where(n => n.OpType == "Constant" && n.Attributes.TryGetValue("value", out var v) && v.Tensor?.Type == ElementType.Float16).ToList();
        var interface16 = graph.Inputs.Concat(graph.Outputs).Any(v => v.Type == ElementType.Float16);
        if (halves.Count == 0 && casts.Count == 0 && constants.Count == 0 && !interface16) return false;

        foreach (var tensor in halves) graph.Initializers[tensor.Name] = ToFloat(tensor);
        foreach (var constant in constants) constant.Attributes["value"] = NodeAttribute.Of(ToFloat(constant.Attributes["value"].Tensor!));
        for (var i = 0; i < graph.Inputs.Count; i++) if (graph.Inputs[i].Type == ElementType.Float16) graph.Inputs[i] = graph.Inputs[i] with { Type = ElementType.Float };
        for (var i = 0; i < graph.Outputs.Count; i++) if (graph.Outputs[i].Type == ElementType.Float16) graph.Outputs[i] = graph.Outputs[i] with { Type = ElementType.Float };
        // Every float16 value is now float: a Cast to either, from a value that is not an integer, changes nothing.
        foreach (var cast in graph.Nodes.Where(n => n.OpType == "Cast" && (n.Domain is "" or "ai.onnx") && n.GetInt("to", 0) is (long)ElementType.Float16 or (long)ElementType.Float).ToList())
        {
            if (TypeOf(graph, cast.Inputs[0]) is { } from && from is not (ElementType.Float or ElementType.Float16))
            {
                // 8-bit integers are exact in either: the Cast of a uint8 image input (Passes.PixelInput) to float16 is one to float.
                if (from is ElementType.UInt8 or ElementType.Int8) cast.Attributes["to"] = NodeAttribute.Of((long)ElementType.Float);
                continue;
            }
            graph.Nodes[graph.Nodes.IndexOf(cast)] = new Node(cast.Name, "Identity", [cast.Inputs[0]], [cast.Outputs[0]]);
        }
        foreach (var (name, info) in graph.ValueInfos.ToList())
            if (info.Type == ElementType.Float16) graph.ValueInfos[name] = info with { Type = ElementType.Float };
        model.Metadata[MetadataKey] = "true";
        return true;
    }

    static ElementType? TypeOf(ModelGraph graph, string value) =>
        graph.FindInitializer(value)?.Type
        ?? graph.Inputs.FirstOrDefault(i => i.Name == value)?.Type
        ?? (graph.ValueInfos.TryGetValue(value, out var info) ? info.Type : null);

    static Tensor ToFloat(Tensor half)
    {
        var values = MemoryMarshal.Cast<byte, Half>(half.Data);
        var floats = new float[values.Length];
        for (var i = 0; i < values.Length; i++) floats[i] = (float)values[i];
        return Tensor.FromFloats(half.Name, half.Dims, floats);
    }
}

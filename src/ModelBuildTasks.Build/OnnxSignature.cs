using System.Text;

namespace ModelBuildTasks.Build;

/// <summary>
/// The signature of an ONNX model (its graph inputs and outputs with their element types and
/// shapes, and its <c>metadata_props</c>), read straight from the protobuf bytes. The task
/// assembly stays dependency-free (no Google.Protobuf in an MSBuild node), and nothing but these
/// few fields is needed for the design-time and uncompressed classes.
/// </summary>
sealed class OnnxSignature
{
    /// <summary>One graph input or output: name, ONNX element type, dimensions (a number, or the symbolic name).</summary>
    public sealed record Value(string Name, int ElementType, IReadOnlyList<string> Shape);

    public List<Value> Inputs { get; } = [];
    public List<Value> Outputs { get; } = [];
    public Dictionary<string, string> Metadata { get; } = new(StringComparer.Ordinal);
    /// <summary>Whether the first output is made by a Softmax over its last axis (the engine's <c>output_probabilities</c>).</summary>
    public bool EndsInSoftmax { get; private set; }
    /// <summary>The files the initializers keep their data in (ONNX external data), as full paths beside the model; each once.</summary>
    public List<string> ExternalDataFiles { get; } = [];

    /// <summary>Reads <paramref name="path"/>; a file that is not an ONNX model is <c>MBT1002</c>.</summary>
    public static OnnxSignature Read(string path)
    {
        if (!File.Exists(path)) throw ModelBuildException.ModelNotFound(path);
        // A FIFO or device is a coded error, never a design-time build that hangs.
        var bytes = InputFile.ReadAllBytes(path, InputFile.MaxBytes, ErrorCodes.ModelNotFound, ErrorCodes.InvalidModel);
        var signature = new OnnxSignature();
        var initializers = new HashSet<string>(StringComparer.Ordinal);
        var inputs = new List<Value>();
        var nodes = new List<(string OpType, List<string> Inputs, List<string> Outputs, long Axis)>();
        try
        {
            var graphFound = false;
            foreach (var (field, start, length) in Fields(bytes, 0, bytes.Length))
            {
                if (field == 7) // ModelProto.graph
                {
                    graphFound = true;
                    foreach (var (g, gs, gl) in Fields(bytes, start, length))
                    {
                        if (g == 5) // TensorProto: its name, and where its data is when not inside (external_data, key "location")
                        {
                            initializers.Add(StringField(bytes, gs, gl, 8));
                            foreach (var (t, ts, tl) in Fields(bytes, gs, gl))
                                if (t == 13 && StringField(bytes, ts, tl, 1) == "location"
                                    && Path.GetFullPath(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, StringField(bytes, ts, tl, 2))) is var file
                                    && !signature.ExternalDataFiles.Contains(file))
                                    signature.ExternalDataFiles.Add(file);
                        }
                        else if (g == 1) nodes.Add(ReadNode(bytes, gs, gl));
                        else if (g == 11) inputs.Add(ReadValue(bytes, gs, gl));
                        else if (g == 12) signature.Outputs.Add(ReadValue(bytes, gs, gl));
                    }
                }
                else if (field == 14) // ModelProto.metadata_props
                {
                    signature.Metadata[StringField(bytes, start, length, 1)] = StringField(bytes, start, length, 2);
                }
            }
            if (!graphFound) throw new InvalidDataException("the file has no graph");
        }
        catch (Exception e) when (e is InvalidDataException or ArgumentException or DecoderFallbackException)
        {
            throw new ModelBuildException(ErrorCodes.InvalidModel, $"not a valid ONNX model: {e.Message}", path);
        }
        // Older exporters list the weights among the inputs too: the image input is the one left.
        signature.Inputs.AddRange(inputs.Where(i => !initializers.Contains(i.Name)));
        // Through any Identity or Dropout an exporter put after the Softmax to name the output, as the engine looks.
        var producer = signature.Outputs.Count > 0 ? nodes.LastOrDefault(n => n.Outputs.Contains(signature.Outputs[0].Name)) : default;
        for (var steps = 0; producer is { OpType: "Identity" or "Dropout", Inputs.Count: > 0 } && steps < nodes.Count; steps++)
            producer = nodes.LastOrDefault(n => n.Outputs.Contains(producer.Inputs[0]));
        signature.EndsInSoftmax = producer is { OpType: "Softmax", Axis: -1 or 1 };
        return signature;
    }

    // NodeProto: op_type (4), inputs (1), outputs (2), and the "axis" attribute (5: AttributeProto name 1, i 3), -1 when absent.
    static (string OpType, List<string> Inputs, List<string> Outputs, long Axis) ReadNode(byte[] b, int start, int length)
    {
        var (opType, inputs, outputs, axis) = ("", new List<string>(), new List<string>(), -1L);
        foreach (var (f, s, l) in Fields(b, start, length))
        {
            if (f == 1) inputs.Add(Encoding.UTF8.GetString(b, s, l));
            else if (f == 2) outputs.Add(Encoding.UTF8.GetString(b, s, l));
            else if (f == 4) opType = Encoding.UTF8.GetString(b, s, l);
            else if (f == 5 && StringField(b, s, l, 1) == "axis")
                foreach (var (a, at, _) in Fields(b, s, l))
                    if (a == 3) { var p = at; axis = (long)Varint(b, ref p); }
        }
        return (opType, inputs, outputs, axis);
    }

    static Value ReadValue(byte[] b, int start, int length)
    {
        var name = "";
        var type = 0;
        var shape = new List<string>();
        foreach (var (f, s, l) in Fields(b, start, length))
        {
            if (f == 1) name = Encoding.UTF8.GetString(b, s, l);
            else if (f == 2) // TypeProto
                foreach (var (t, ts, tl) in Fields(b, s, l))
                {
                    if (t != 1) continue; // TypeProto.tensor_type
                    foreach (var (k, ks, kl) in Fields(b, ts, tl))
                    {
                        if (k == 1) { var at = ks; type = (int)Varint(b, ref at); }
                        else if (k == 2) // TensorShapeProto
                            foreach (var (d, ds, dl) in Fields(b, ks, kl))
                            {
                                if (d != 1) continue;
                                var dim = "N";
                                foreach (var (v, vs, vl) in Fields(b, ds, dl))
                                {
                                    var at = vs;
                                    if (v == 1) dim = Varint(b, ref at).ToString(System.Globalization.CultureInfo.InvariantCulture);
                                    else if (v == 2) dim = Encoding.UTF8.GetString(b, vs, vl);
                                }
                                shape.Add(dim);
                            }
                    }
                }
        }
        return new Value(name, type, shape);
    }

    static string StringField(byte[] b, int start, int length, int wanted)
    {
        foreach (var (f, s, l) in Fields(b, start, length))
            if (f == wanted) return Encoding.UTF8.GetString(b, s, l);
        return "";
    }

    // The fields of one message: for a length-delimited field its payload, for a varint its
    // first byte (read with Varint); fixed-size fields are skipped over.
    static IEnumerable<(int Field, int Start, int Length)> Fields(byte[] b, int start, int length)
    {
        var end = start + length;
        if (start < 0 || end > b.Length) throw new InvalidDataException("a field runs past the end of the file");
        var at = start;
        while (at < end)
        {
            var key = Varint(b, ref at);
            var field = (int)(key >> 3);
            switch (key & 7)
            {
                case 0:
                    var valueStart = at;
                    Varint(b, ref at);
                    yield return (field, valueStart, at - valueStart);
                    break;
                case 1: at += 8; break;
                case 5: at += 4; break;
                case 2:
                    var size = Varint(b, ref at);
                    if (size > (ulong)(end - at)) throw new InvalidDataException($"a field of {size} bytes runs past its message at byte {at}");
                    yield return (field, at, (int)size);
                    at += (int)size;
                    break;
                default: throw new InvalidDataException($"unknown wire type {key & 7} at byte {at}");
            }
            if (at > end) throw new InvalidDataException("a field runs past the end of its message");
        }
    }

    static ulong Varint(byte[] b, ref int at)
    {
        ulong value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            if (at >= b.Length) throw new InvalidDataException("a number runs past the end of the file");
            var x = b[at++];
            value |= (ulong)(x & 0x7F) << shift;
            if ((x & 0x80) == 0) return value;
        }
        throw new InvalidDataException($"a number longer than 10 bytes at byte {at}");
    }
}

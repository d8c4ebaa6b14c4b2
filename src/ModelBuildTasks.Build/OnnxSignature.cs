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

    /// <summary>Reads <paramref name="path"/>; a file that is not an ONNX model is <c>MBT1002</c>.</summary>
    public static OnnxSignature Read(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw ModelBuildException.ModelNotFound(path);
        if (info.Length > int.MaxValue) throw new ModelBuildException(ErrorCodes.InvalidModel, "the model is over 2 GiB", path);
        var bytes = File.ReadAllBytes(path);
        var signature = new OnnxSignature();
        var initializers = new HashSet<string>(StringComparer.Ordinal);
        var inputs = new List<Value>();
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
                        if (g == 5) initializers.Add(StringField(bytes, gs, gl, 8)); // TensorProto.name
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
        catch (Exception e) when (e is InvalidDataException or ArgumentOutOfRangeException or DecoderFallbackException)
        {
            throw new ModelBuildException(ErrorCodes.InvalidModel, $"not a valid ONNX model: {e.Message}", path);
        }
        // Older exporters list the weights among the inputs too: the image input is the one left.
        signature.Inputs.AddRange(inputs.Where(i => !initializers.Contains(i.Name)));
        return signature;
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

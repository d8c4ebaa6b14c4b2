using System.Text;

namespace ModelBuildTasks.Onnx;

/// <summary>
/// The facts about an ONNX model that need no IR: its graph inputs and outputs with their element
/// types and shapes, its <c>metadata_props</c>, the files its tensors keep their data in (ONNX
/// external data) and whether it ends in a Softmax, read straight from the protobuf bytes. The
/// MSBuild task links this file as source, so its assembly stays dependency-free (no
/// Google.Protobuf in an MSBuild node); the engine reads the same facts through it, so the two
/// never disagree about a model.
/// </summary>
public sealed class OnnxSignature
{
    /// <summary>One graph input or output: name, ONNX element type, dimensions (a number, or the symbolic name).</summary>
    /// <param name="Name">The value's name.</param>
    /// <param name="ElementType">The ONNX element type (1 is float).</param>
    /// <param name="Shape">Each dimension: its size, its symbolic name, or N when it has neither.</param>
    public sealed record Value(string Name, int ElementType, IReadOnlyList<string> Shape);

    /// <summary>The graph's inputs, without the initializers older exporters list among them.</summary>
    public List<Value> Inputs { get; } = [];
    /// <summary>The graph's outputs.</summary>
    public List<Value> Outputs { get; } = [];
    /// <summary>The model's <c>metadata_props</c>.</summary>
    public Dictionary<string, string> Metadata { get; } = new(StringComparer.Ordinal);
    /// <summary>Whether the first output already is probabilities, from a Softmax or a Sigmoid (<see cref="SoftmaxOutput.EndsInProbabilities"/>; the container's <c>output_probabilities</c>).</summary>
    public bool EndsInProbabilities { get; private set; }

    /// <summary>
    /// Whether the input is N x H x W x C (TensorFlow's layout) that only Transposes with perm [0, 3, 1, 2] read, as
    /// tf2onnx exports it: the engine makes it N x C x H x W, the shape the compressed model and its class take.
    /// </summary>
    public bool ChannelsLastInput { get; private set; }

    /// <summary>
    /// Whether the input is uint8 that only Casts to float read (before or after a Transpose to channels first): the
    /// engine makes it a float input of the same pixel values (Passes/PixelInput), as the compressed model and its class take.
    /// </summary>
    public bool PixelInput { get; private set; }
    /// <summary>
    /// The files the model's tensors keep their data in (<c>data_location = EXTERNAL</c>: initializers,
    /// sparse initializers, and tensors in attributes and subgraphs, as <c>ExternalData</c> loads them),
    /// as full paths resolved against the model's folder, each once. Whether they exist, and stay inside
    /// that folder, is <c>ExternalData</c>'s check when the model is loaded.
    /// </summary>
    public List<string> ExternalDataFiles { get; } = [];

    /// <summary>Reads the model file at <paramref name="path"/>.</summary>
    /// <exception cref="ModelBuildException">The file is missing, not a regular file (<c>MBT1001</c>), or not an ONNX model (<c>MBT1002</c>).</exception>
    public static OnnxSignature Read(string path)
    {
        if (!File.Exists(path)) throw ModelBuildException.ModelNotFound(path);
        // A FIFO or device is a coded error, never a design-time build that hangs.
        return Parse(InputFile.ReadAllBytes(path, InputFile.MaxBytes, ErrorCodes.ModelNotFound, ErrorCodes.InvalidModel), path);
    }

    /// <summary>Reads the model whose file bytes are <paramref name="bytes"/>.</summary>
    /// <param name="bytes">The ONNX file's bytes.</param>
    /// <param name="path">The model file: external-data locations are resolved against its folder, and errors name it.</param>
    /// <exception cref="ModelBuildException">The bytes are not an ONNX model (<c>MBT1002</c>).</exception>
    public static OnnxSignature Parse(byte[] bytes, string path)
    {
        var signature = new OnnxSignature();
        var folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var initializers = new HashSet<string>(StringComparer.Ordinal);
        var inputs = new List<Value>();
        var nodes = new List<Node>();
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
                        else if (g == 1) nodes.Add(ReadNode(bytes, gs, gl));
                        else if (g == 11) inputs.Add(ReadValue(bytes, gs, gl));
                        else if (g == 12) signature.Outputs.Add(ReadValue(bytes, gs, gl));
                    }
                    foreach (var (ts, tl) in Tensors(bytes, start, length))
                        if (ExternalLocation(bytes, ts, tl) is { } location
                            && Path.GetFullPath(Path.Combine(folder, location)) is var file
                            && !signature.ExternalDataFiles.Contains(file))
                            signature.ExternalDataFiles.Add(file);
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
        SoftmaxOutput.Producer? ProducerOf(string value) =>
            nodes.LastOrDefault(n => n.Outputs.Contains(value)) is { } n ? new SoftmaxOutput.Producer(n.OpType, n.Inputs.FirstOrDefault(), n.Axis) : null;
        signature.EndsInProbabilities = signature.Outputs.Count > 0 && SoftmaxOutput.EndsInProbabilities(signature.Outputs[0].Name, ProducerOf);
        // The engine's rules (Passes/PixelInput, Passes/ChannelsFirstInput): a uint8 input that only Casts to float read, and an
        // N x H x W x C input that only Transposes to N x C x H x W read, in either order.
        if (signature.Inputs is [var image])
        {
            List<Node> ReadersOf(IEnumerable<string> values) => nodes.Where(n => n.Inputs.Any(values.Contains)).ToList();
            // To float, or to float16, which the engine makes float (Passes/Float16ToFloat).
            static bool Casts(List<Node> readers) => readers.Count > 0 && readers.All(n => n.OpType == "Cast" && n.To is 1 or 10);
            static bool Transposes(List<Node> readers) => readers.Count > 0 && readers.All(n => n.OpType == "Transpose" && n.Perm is [0, 3, 1, 2]);
            var readers = ReadersOf([image.Name]);
            var pixels = image.ElementType == 2 && Casts(readers);
            if (pixels) readers = ReadersOf(readers.SelectMany(n => n.Outputs));
            signature.ChannelsLastInput = image.Shape.Count == 4 && Transposes(readers);
            signature.PixelInput = pixels || image.ElementType == 2 && signature.ChannelsLastInput && Casts(ReadersOf(readers.SelectMany(n => n.Outputs)));
        }
        return signature;
    }

    sealed record Node(string OpType, List<string> Inputs, List<string> Outputs, long Axis, List<long> Perm, long To);

    // NodeProto: op_type (4), inputs (1), outputs (2), the "axis" attribute (5: AttributeProto name 1, i 3), -1 when
    // absent, the "perm" one (ints 8, packed or one varint per field: either way varints from the field's start), and a
    // Cast's "to" (i 3), 0 when absent.
    static Node ReadNode(byte[] b, int start, int length)
    {
        var (opType, inputs, outputs, axis, perm, to) = ("", new List<string>(), new List<string>(), -1L, new List<long>(), 0L);
        foreach (var (f, s, l) in Fields(b, start, length))
        {
            if (f == 1) inputs.Add(Encoding.UTF8.GetString(b, s, l));
            else if (f == 2) outputs.Add(Encoding.UTF8.GetString(b, s, l));
            else if (f == 4) opType = Encoding.UTF8.GetString(b, s, l);
            else if (f == 5 && StringField(b, s, l, 1) is var name && name is "axis" or "perm" or "to")
                foreach (var (a, at, al) in Fields(b, s, l))
                {
                    var p = at;
                    if (a == 3 && name == "to") to = (long)Varint(b, ref p);
                    else if (a == 3) axis = (long)Varint(b, ref p);
                    else if (a == 8)
                        while (p < at + al) perm.Add((long)Varint(b, ref p));
                }
        }
        return new Node(opType, inputs, outputs, axis, perm, to);
    }

    // Every TensorProto of a GraphProto, as ExternalData.AllTensors walks the parsed model: initializers (5),
    // sparse initializers' values and indices (15: 1, 2), and in each node's attributes (1: 5) the tensors
    // (t 5, tensors 10) and the subgraphs' (g 6, graphs 11), recursively: about as deep as Google.Protobuf
    // parses (100 nested messages, three per subgraph level), so a crafted nesting is an invalid model, never
    // a stack overflow in an MSBuild node.
    static IEnumerable<(int Start, int Length)> Tensors(byte[] b, int start, int length, int depth = 0)
    {
        if (depth > 32) throw new InvalidDataException("subgraphs nested more than 32 deep");
        foreach (var (g, gs, gl) in Fields(b, start, length))
        {
            if (g == 5) yield return (gs, gl);
            else if (g == 15)
            {
                foreach (var (s, ss, sl) in Fields(b, gs, gl))
                    if (s is 1 or 2) yield return (ss, sl);
            }
            else if (g == 1)
            {
                foreach (var (n, ns, nl) in Fields(b, gs, gl))
                {
                    if (n != 5) continue;
                    foreach (var (a, at, al) in Fields(b, ns, nl))
                    {
                        if (a is 5 or 10) yield return (at, al);
                        else if (a is 6 or 11)
                            foreach (var tensor in Tensors(b, at, al, depth + 1)) yield return tensor;
                    }
                }
            }
        }
    }

    // A TensorProto's external_data "location" (13: StringStringEntryProto key 1, value 2) when its data_location (14) is EXTERNAL (1).
    static string? ExternalLocation(byte[] b, int start, int length)
    {
        var (external, location) = (false, (string?)null);
        foreach (var (t, ts, tl) in Fields(b, start, length))
        {
            if (t == 14) { var at = ts; external = Varint(b, ref at) == 1; }
            else if (t == 13 && StringField(b, ts, tl, 1) == "location") location = StringField(b, ts, tl, 2);
        }
        return external && !string.IsNullOrEmpty(location) ? location : null;
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

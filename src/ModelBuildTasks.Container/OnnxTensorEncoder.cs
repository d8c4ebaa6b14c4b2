namespace ModelBuildTasks.Container;

/// <summary>
/// The few protobuf encodings needed to put initializers back into ONNX bytes without an ONNX
/// library: varints, field keys, and a TensorProto with dims (1), data_type (2), name (8) and
/// raw_data (9).
/// </summary>
static class OnnxTensorEncoder
{
    const int Varint = 0, LengthDelimited = 2;

    public static byte[] Encode(ContainerTensorInfo info, byte[] data)
    {
        using var s = new MemoryStream();
        foreach (var d in info.Dims) { Key(s, 1, Varint); WriteVarint(s, (ulong)d); }
        Key(s, 2, Varint); WriteVarint(s, (ulong)info.ElementType);
        var name = System.Text.Encoding.UTF8.GetBytes(info.Name);
        Key(s, 8, LengthDelimited); WriteVarint(s, (ulong)name.Length); s.Write(name);
        Key(s, 9, LengthDelimited); WriteVarint(s, (ulong)data.Length); s.Write(data);
        return s.ToArray();
    }

    /// <summary>model + field 7 (graph) = graph part + field 5 (initializer) per tensor.</summary>
    public static byte[] Assemble(ReadOnlySpan<byte> model, ReadOnlySpan<byte> graph, IReadOnlyList<byte[]> initializers)
    {
        using var body = new MemoryStream();
        body.Write(graph);
        foreach (var t in initializers) { Key(body, 5, LengthDelimited); WriteVarint(body, (ulong)t.Length); body.Write(t); }
        using var s = new MemoryStream();
        s.Write(model);
        Key(s, 7, LengthDelimited);
        WriteVarint(s, (ulong)body.Length);
        body.Position = 0;
        body.CopyTo(s);
        return s.ToArray();
    }

    static void Key(Stream s, int field, int wireType) => WriteVarint(s, (ulong)((field << 3) | wireType));

    static void WriteVarint(Stream s, ulong value)
    {
        while (value >= 0x80) { s.WriteByte((byte)(value | 0x80)); value >>= 7; }
        s.WriteByte((byte)value);
    }
}

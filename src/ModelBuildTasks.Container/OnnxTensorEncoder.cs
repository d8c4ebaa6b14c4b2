namespace ModelBuildTasks.Container;

/// <summary>
/// The few protobuf encodings needed to put initializers back into ONNX bytes without an ONNX
/// library: varints, field keys, and a TensorProto with dims (1), data_type (2), name (8) and
/// raw_data (9).
/// </summary>
static class OnnxTensorEncoder
{
    const int Varint = 0, LengthDelimited = 2;

    /// <summary>
    /// model + field 7 (graph) = graph part + field 5 (initializer) per tensor, built in one buffer of
    /// the exact size: <paramref name="decodeInto"/> writes each tensor's values straight into its
    /// raw_data field (tensor index, destination), so no decoded tensor is copied.
    /// </summary>
    public static byte[] Assemble(ReadOnlySpan<byte> model, ReadOnlySpan<byte> graph, IReadOnlyList<ContainerTensorInfo> tensors, Action<int, Memory<byte>> decodeInto)
    {
        var headers = tensors.Select(Header).ToArray();
        var body = (long)graph.Length;
        for (var i = 0; i < tensors.Count; i++)
        {
            var tensor = headers[i].Length + tensors[i].DecodedLength;
            body += 1 + VarintLength((ulong)tensor) + tensor;
        }
        var total = model.Length + 1 + VarintLength((ulong)body) + body;
        if (total > Array.MaxLength) throw new ContainerFormatException($"the model would take {total} bytes as ONNX, more than an array holds", 0);
        var onnx = new byte[total];
        var at = 0;
        model.CopyTo(onnx);
        at += model.Length;
        Key(onnx, ref at, 7, LengthDelimited);
        WriteVarint(onnx, ref at, (ulong)body);
        graph.CopyTo(onnx.AsSpan(at));
        at += graph.Length;
        var starts = new int[tensors.Count];
        for (var i = 0; i < tensors.Count; i++)
        {
            Key(onnx, ref at, 5, LengthDelimited);
            WriteVarint(onnx, ref at, (ulong)(headers[i].Length + tensors[i].DecodedLength));
            headers[i].CopyTo(onnx, at);
            at += headers[i].Length;
            starts[i] = at;
            at += (int)tensors[i].DecodedLength;
        }
        var errors = new ContainerFormatException?[tensors.Count];
        // Tensors decode independently, and the runtime does this at app start: use the cores there are.
        // Errors are kept per tensor so the first bad tensor is reported, whichever thread found it.
        Parallel.For(0, tensors.Count, i =>
        {
            try { decodeInto(i, onnx.AsMemory(starts[i], (int)tensors[i].DecodedLength)); }
            catch (ContainerFormatException e) { errors[i] = e; }
        });
        if (errors.FirstOrDefault(e => e is not null) is { } error) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(error);
        return onnx;
    }

    // Everything of the TensorProto before the values: dims, data_type, name, and raw_data's key and length.
    static byte[] Header(ContainerTensorInfo info)
    {
        var name = System.Text.Encoding.UTF8.GetBytes(info.Name);
        var buffer = new byte[info.Dims.Length * 11 + 11 + 1 + 5 + name.Length + 1 + 10];
        var at = 0;
        foreach (var d in info.Dims) { Key(buffer, ref at, 1, Varint); WriteVarint(buffer, ref at, (ulong)d); }
        Key(buffer, ref at, 2, Varint); WriteVarint(buffer, ref at, (ulong)info.ElementType);
        Key(buffer, ref at, 8, LengthDelimited); WriteVarint(buffer, ref at, (ulong)name.Length);
        name.CopyTo(buffer, at); at += name.Length;
        Key(buffer, ref at, 9, LengthDelimited); WriteVarint(buffer, ref at, (ulong)info.DecodedLength);
        return buffer[..at];
    }

    static void Key(byte[] buffer, ref int at, int field, int wireType) => WriteVarint(buffer, ref at, (ulong)((field << 3) | wireType));

    static void WriteVarint(byte[] buffer, ref int at, ulong value)
    {
        while (value >= 0x80) { buffer[at++] = (byte)(value | 0x80); value >>= 7; }
        buffer[at++] = (byte)value;
    }

    static int VarintLength(ulong value)
    {
        var length = 1;
        while (value >= 0x80) { value >>= 7; length++; }
        return length;
    }
}

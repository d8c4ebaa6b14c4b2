using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace ModelBuildTasks.Container;

/// <summary>Writes version-1 containers (docs/format.md). The same inputs always give the same bytes.</summary>
public static class ContainerWriter
{
    /// <summary>Builds a container.</summary>
    /// <param name="metadataJson">The metadata object, already serialized (UTF-8 JSON).</param>
    /// <param name="modelWithoutGraph">ONNX ModelProto bytes without the graph field.</param>
    /// <param name="graphWithoutInitializers">ONNX GraphProto bytes without initializers.</param>
    /// <param name="tensors">The initializers, in model order.</param>
    public static byte[] Write(string metadataJson, ReadOnlySpan<byte> modelWithoutGraph, ReadOnlySpan<byte> graphWithoutInitializers, IReadOnlyList<ContainerTensor> tensors)
    {
        var metadata = Encoding.UTF8.GetBytes(metadataJson);
        var graph = GraphSection(modelWithoutGraph, graphWithoutInitializers);

        // Brotli at quality 11 dominates the time of a pack; tensors are independent, and the result is indexed, so still deterministic.
        var encoded = new (TensorEncoding Encoding, byte[] Bytes)[tensors.Count];
        Parallel.For(0, tensors.Count, i => encoded[i] = Encode(tensors[i]));
        var names = new HashSet<string>(StringComparer.Ordinal);
        var tableLength = 0L;
        foreach (var t in tensors)
        {
            if (!names.Add(t.Name)) throw new ArgumentException($"tensor name '{t.Name}' appears twice", nameof(tensors));
            var nameBytes = Encoding.UTF8.GetByteCount(t.Name);
            if (nameBytes is 0 or > ContainerLayout.MaxName) throw new ArgumentException($"tensor name '{t.Name}' is empty or too long", nameof(tensors));
            if (t.Dims.Length > ContainerLayout.MaxRank) throw new ArgumentException($"tensor '{t.Name}' has rank {t.Dims.Length} (at most {ContainerLayout.MaxRank})", nameof(tensors));
            if (ContainerLayout.ElementSize(t.ElementType) == 0) throw new ArgumentException($"tensor '{t.Name}' has unsupported element type {t.ElementType}", nameof(tensors));
            tableLength += 2 + nameBytes + 4 + 8 * t.Dims.Length + 8 * 3 + 4 + 4;
        }

        var metadataOffset = (long)ContainerLayout.HeaderSize;
        var graphOffset = metadataOffset + metadata.Length;
        var tableOffset = graphOffset + graph.Length;
        var dataOffset = Align(tableOffset + tableLength);
        var offsets = new long[tensors.Count];
        var position = dataOffset;
        for (var i = 0; i < tensors.Count; i++)
        {
            offsets[i] = position;
            position = Align(position + encoded[i].Bytes.Length);
        }

        var file = new byte[position];
        var span = file.AsSpan();
        ContainerLayout.Magic.CopyTo(span);
        BinaryPrimitives.WriteUInt32LittleEndian(span[8..], ContainerLayout.Version);
        BinaryPrimitives.WriteUInt32LittleEndian(span[12..], ContainerLayout.Alignment);
        BinaryPrimitives.WriteUInt64LittleEndian(span[16..], (ulong)metadataOffset);
        BinaryPrimitives.WriteUInt64LittleEndian(span[24..], (ulong)metadata.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(span[32..], (ulong)graphOffset);
        BinaryPrimitives.WriteUInt64LittleEndian(span[40..], (ulong)graph.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(span[48..], (ulong)tableOffset);
        BinaryPrimitives.WriteUInt32LittleEndian(span[56..], (uint)tensors.Count);
        metadata.CopyTo(span[(int)metadataOffset..]);
        graph.CopyTo(span[(int)graphOffset..]);

        var cursor = (int)tableOffset;
        for (var i = 0; i < tensors.Count; i++)
        {
            var t = tensors[i];
            var name = Encoding.UTF8.GetBytes(t.Name);
            BinaryPrimitives.WriteUInt16LittleEndian(span[cursor..], (ushort)name.Length); cursor += 2;
            name.CopyTo(span[cursor..]); cursor += name.Length;
            span[cursor++] = (byte)t.ElementType;
            span[cursor++] = (byte)encoded[i].Encoding;
            span[cursor++] = (byte)t.Dims.Length;
            span[cursor++] = 0;
            foreach (var d in t.Dims) { BinaryPrimitives.WriteInt64LittleEndian(span[cursor..], d); cursor += 8; }
            BinaryPrimitives.WriteUInt64LittleEndian(span[cursor..], (ulong)offsets[i]); cursor += 8;
            BinaryPrimitives.WriteUInt64LittleEndian(span[cursor..], (ulong)encoded[i].Bytes.Length); cursor += 8;
            BinaryPrimitives.WriteUInt64LittleEndian(span[cursor..], (ulong)t.Data.Length); cursor += 8;
            BinaryPrimitives.WriteUInt32LittleEndian(span[cursor..], Crc32.Compute(encoded[i].Bytes)); cursor += 4;
            BinaryPrimitives.WriteUInt32LittleEndian(span[cursor..], 0); cursor += 4;
            encoded[i].Bytes.CopyTo(span[(int)offsets[i]..]);
        }

        var crc = Crc32.Append(0, span[..60]);
        crc = Crc32.Append(crc, span[(int)metadataOffset..(int)(tableOffset + tableLength)]);
        BinaryPrimitives.WriteUInt32LittleEndian(span[60..], crc);
        return file;
    }

    // encoding (u8), 3 reserved bytes, decoded length (u32), then the encoded bytes of
    // [u32 model_length][model][graph]. Node and tensor names repeat a lot: Brotli shrinks this about 6x.
    static byte[] GraphSection(ReadOnlySpan<byte> model, ReadOnlySpan<byte> graph)
    {
        var plain = new byte[4 + model.Length + graph.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(plain, (uint)model.Length);
        model.CopyTo(plain.AsSpan(4));
        graph.CopyTo(plain.AsSpan(4 + model.Length));
        var buffer = new byte[BrotliEncoder.GetMaxCompressedLength(plain.Length)];
        var brotli = BrotliEncoder.TryCompress(plain, buffer, out var written, quality: 11, window: 22) && written < plain.Length
            && ContainerLimits.ExpansionAllowed(written, plain.Length); // readers reject anything past the expansion limit
        var body = brotli ? buffer.AsSpan(0, written) : plain;
        var section = new byte[8 + body.Length];
        section[0] = brotli ? (byte)1 : (byte)0;
        BinaryPrimitives.WriteUInt32LittleEndian(section.AsSpan(4), (uint)plain.Length);
        body.CopyTo(section.AsSpan(8));
        return section;
    }

    static long Align(long value) => (value + ContainerLayout.Alignment - 1) / ContainerLayout.Alignment * ContainerLayout.Alignment;

    /// <summary>Per-tensor figures of the last encoding choice: what each tensor costs against its entropy bound.</summary>
    public static IReadOnlyList<TensorStorage> Storage(IReadOnlyList<ContainerTensor> tensors) =>
        tensors.Select(t =>
        {
            var (encoding, bytes) = Encode(t);
            return new TensorStorage(t.Name, encoding, t.Data.Length, bytes.Length, EntropyCoding.EntropyBound(t.Data));
        }).ToList();

    // The smallest of the encodings that apply; tiny tensors stay raw.
    static (TensorEncoding Encoding, byte[] Bytes) Encode(ContainerTensor tensor)
    {
        if (tensor.Data.Length < 64) return (TensorEncoding.Raw, tensor.Data);
        var best = (Encoding: TensorEncoding.Raw, Bytes: tensor.Data);
        void Consider(TensorEncoding encoding, byte[] bytes)
        {
            // Readers reject codes past the expansion limit (huge runs of zeros): such a tensor takes the next best encoding.
            if (bytes.Length < best.Bytes.Length && ContainerLimits.ExpansionAllowed(bytes.Length, tensor.Data.Length)) best = (encoding, bytes);
        }
        var buffer = new byte[BrotliEncoder.GetMaxCompressedLength(tensor.Data.Length)];
        if (BrotliEncoder.TryCompress(tensor.Data, buffer, out var written, quality: 11, window: 22)) Consider(TensorEncoding.Brotli, buffer[..written]);
        if (ContainerLayout.ElementSize(tensor.ElementType) == 1)
        {
            Consider(TensorEncoding.Huffman, EntropyCoding.EncodeHuffman(tensor.Data));
            if (tensor.Data.Count(b => b == 0) * 4 >= tensor.Data.Length) Consider(TensorEncoding.SparseHuffman, EntropyCoding.EncodeSparse(tensor.Data));
        }
        return best;
    }
}

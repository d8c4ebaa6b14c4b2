using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace ModelBuildTasks.Container;

/// <summary>Writes version-2 containers (docs/format.md). The same inputs always give the same bytes.</summary>
public static class ContainerWriter
{
    static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    // Below these sizes a tensor goes inline: coded with the graph, a few scale or bias values cost
    // less than a table of their own. 1-byte tensors from 256 bytes up have a distribution worth a table.
    const int InlineBelow = 256;
    const int InlineWideBelow = 4096;

    // Brotli's best quality runs at a few hundred KB/s: larger indexes take faster qualities, which
    // cost about 1% of the index's size (0.01% of ResNet-18's container) and keep packing fast.
    static int IndexQuality(int length) => length <= 64 << 10 ? 11 : length <= 512 << 10 ? 10 : 5;

    /// <summary>Builds a container.</summary>
    /// <param name="metadataJson">The metadata object, already serialized (UTF-8 JSON).</param>
    /// <param name="modelWithoutGraph">ONNX ModelProto bytes without the graph field.</param>
    /// <param name="graphWithoutInitializers">ONNX GraphProto bytes without initializers.</param>
    /// <param name="tensors">The initializers, in model order.</param>
    public static byte[] Write(string metadataJson, ReadOnlySpan<byte> modelWithoutGraph, ReadOnlySpan<byte> graphWithoutInitializers, IReadOnlyList<ContainerTensor> tensors)
    {
        var metadata = Encoding.UTF8.GetBytes(metadataJson);
        if (metadata.Length > ContainerLayout.MaxMetadata) throw new ArgumentException("the metadata is larger than 16 MiB", nameof(metadataJson));
        if ((long)modelWithoutGraph.Length + graphWithoutInitializers.Length > ContainerLayout.MaxGraph)
            throw new ArgumentException("the model and graph are larger than 256 MiB", nameof(graphWithoutInitializers));
        if (tensors.Count > ContainerLayout.MaxTensors) throw new ArgumentException($"more than {ContainerLayout.MaxTensors} tensors", nameof(tensors));
        var names = new HashSet<string>(StringComparer.Ordinal);
        long decodedTotal = 0;
        foreach (var t in tensors)
        {
            if (!names.Add(t.Name)) throw new ArgumentException($"tensor name '{t.Name}' appears twice", nameof(tensors));
            // Strict: a lone surrogate would be written as U+FFFD, renaming the tensor (or making two names one).
            int nameBytes;
            try { nameBytes = StrictUtf8.GetByteCount(t.Name); }
            catch (EncoderFallbackException) { throw new ArgumentException($"tensor name '{t.Name}' is not valid Unicode (a lone surrogate)", nameof(tensors)); }
            if (nameBytes is 0 or > ContainerLayout.MaxName) throw new ArgumentException($"tensor name '{t.Name}' is empty or too long", nameof(tensors));
            if (t.Dims.Length > ContainerLayout.MaxRank) throw new ArgumentException($"tensor '{t.Name}' has rank {t.Dims.Length} (at most {ContainerLayout.MaxRank})", nameof(tensors));
            var size = ContainerLayout.ElementSize(t.ElementType);
            if (size == 0) throw new ArgumentException($"tensor '{t.Name}' has unsupported element type {t.ElementType}", nameof(tensors));
            // Each dimension within the reader's bound (ContainerV2 refuses a larger one even in an empty tensor).
            if (t.Dims.Any(d => d is < 0 or > ContainerLayout.MaxDecodedTotal))
                throw new ArgumentException($"tensor '{t.Name}' has a dimension outside 0..{ContainerLayout.MaxDecodedTotal}", nameof(tensors));
            if (Elements(t.Dims) * size != t.Data.Length)
                throw new ArgumentException($"tensor '{t.Name}' has {t.Data.Length} bytes, which its shape does not match", nameof(tensors));
            decodedTotal += t.Data.Length;
        }
        if (decodedTotal > ContainerLayout.MaxDecodedTotal) throw new ArgumentException("the tensors are larger than 2 GiB together", nameof(tensors));

        // Tensors code independently and each result is indexed, so this is deterministic.
        var coded = new Coded[tensors.Count];
        Parallel.For(0, tensors.Count, i => coded[i] = Code(tensors[i]));

        var index = new IndexWriter();
        index.Blob(metadata);
        index.Blob(modelWithoutGraph);
        index.Blob(graphWithoutInitializers);
        index.Varint((ulong)tensors.Count);
        for (var i = 0; i < tensors.Count; i++)
        {
            var t = tensors[i];
            index.Blob(Encoding.UTF8.GetBytes(t.Name));
            index.Byte((byte)t.ElementType);
            index.Byte((byte)coded[i].Encoding);
            index.Byte((byte)t.Dims.Length);
            foreach (var d in t.Dims) index.Varint((ulong)d);
            foreach (var plane in coded[i].Planes) PlaneCoding.Write(index, plane);
        }
        for (var i = 0; i < tensors.Count; i++)
            if (coded[i].Encoding == TensorEncoding.Inline) index.Bytes(PlaneCoding.Split(tensors[i].Data, ContainerLayout.ElementSize(tensors[i].ElementType)));
        if (index.Length > ContainerLayout.MaxIndex) throw new ArgumentException("the index (metadata, graph, table and small tensors) is larger than 512 MiB", nameof(tensors));

        var plain = index.Written;
        var (indexEncoding, indexBytes) = CodeIndex(plain);
        var dataLength = coded.Sum(c => (long)c.Payload.Length);
        if (ContainerLayout.HeaderSize + indexBytes.Length + dataLength > ContainerLimits.MaxFileLength)
            throw new ArgumentException($"the container would be larger than the {ContainerLimits.MaxFileLength}-byte file limit", nameof(tensors));
        var file = new byte[ContainerLayout.HeaderSize + indexBytes.Length + dataLength];
        var span = file.AsSpan();
        ContainerLayout.Magic.CopyTo(span);
        BinaryPrimitives.WriteUInt32LittleEndian(span[8..], ContainerLayout.Version);
        span[12] = indexEncoding;
        BinaryPrimitives.WriteUInt32LittleEndian(span[16..], (uint)indexBytes.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(span[20..], (uint)plain.Length);
        indexBytes.CopyTo(span[ContainerLayout.HeaderSize..]);
        var at = ContainerLayout.HeaderSize + indexBytes.Length;
        foreach (var c in coded) { c.Payload.CopyTo(span[at..]); at += c.Payload.Length; }
        BinaryPrimitives.WriteUInt32LittleEndian(span[24..], Crc32.Append(Crc32.Compute(span[..24]), indexBytes));
        BinaryPrimitives.WriteUInt32LittleEndian(span[28..], Crc32.Compute(span[(ContainerLayout.HeaderSize + indexBytes.Length)..]));
        return file;
    }

    /// <summary>The element count as the reader computes it: past its cap, the cap + 1 (no wrap-around to a matching length).</summary>
    static long Elements(long[] dims)
    {
        long elements = 1;
        foreach (var d in dims)
        {
            elements *= d;
            if (elements > ContainerLayout.MaxDecodedTotal) return ContainerLayout.MaxDecodedTotal + 1;
        }
        return elements;
    }

    // 0 raw or 1 Brotli; readers reject an index beyond the expansion limit, so such an index stays raw.
    static (byte Encoding, byte[] Bytes) CodeIndex(ReadOnlySpan<byte> plain)
    {
        var buffer = new byte[BrotliEncoder.GetMaxCompressedLength(plain.Length)];
        if (BrotliEncoder.TryCompress(plain, buffer, out var written, IndexQuality(plain.Length), window: 22) && written < plain.Length
            && ContainerLimits.ExpansionAllowed(written, plain.Length))
            return (1, buffer[..written]);
        return (0, plain.ToArray());
    }

    sealed record Coded(TensorEncoding Encoding, PlaneCode[] Planes, byte[] Payload);

    static Coded Code(ContainerTensor tensor)
    {
        var size = ContainerLayout.ElementSize(tensor.ElementType);
        if (tensor.Data.Length < (size == 1 ? InlineBelow : InlineWideBelow)) return new Coded(TensorEncoding.Inline, [], []);
        var (planes, payload) = PlaneCoding.Encode(tensor.Data, size);
        if (ContainerLimits.ExpansionAllowed(payload.Length, tensor.Data.Length)) return new Coded(TensorEncoding.Rans, planes, payload);
        // Readers reject codes past the expansion limit (a large tensor of one repeated value): raw planes always pass.
        var count = tensor.Data.Length / size;
        return new Coded(TensorEncoding.Rans, Enumerable.Range(0, size).Select(_ => new PlaneCode(PlaneKind.Raw, [], [], count)).ToArray(),
            PlaneCoding.Split(tensor.Data, size));
    }

    /// <summary>
    /// How each tensor would be stored, against its entropy bound. An inline tensor's stored bytes
    /// are its raw bytes: the index codes them together with the graph, so their share is not separable.
    /// </summary>
    public static IReadOnlyList<TensorStorage> Storage(IReadOnlyList<ContainerTensor> tensors) =>
        tensors.Select(t =>
        {
            var coded = Code(t);
            var stored = coded.Encoding == TensorEncoding.Inline ? t.Data.Length : coded.Payload.Length;
            return new TensorStorage(t.Name, coded.Encoding, t.Data.Length, stored, EntropyCoding.EntropyBound(t.Data));
        }).ToList();
}

using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace ModelBuildTasks.Container;

/// <summary>
/// Reads version-2 containers (docs/format.md): a 32-byte header, the coded index (metadata, graph,
/// tensor table, inline tensors), then the data section. Both checksums and every field of the
/// index are checked before any tensor is decoded.
/// </summary>
static class ContainerV2
{
    public static ModelContainer Read(byte[] file)
    {
        long length = file.Length;
        if (length < ContainerLayout.HeaderSize) throw new ContainerFormatException($"the file has {length} bytes, less than the {ContainerLayout.HeaderSize}-byte header", 0);
        var span = file.AsSpan();
        var indexEncoding = span[12];
        if (span[13] != 0 || span[14] != 0 || span[15] != 0) throw new ContainerFormatException("reserved header bytes are not 0", 13);
        var indexStored = (long)BinaryPrimitives.ReadUInt32LittleEndian(span[16..]);
        var indexDecoded = (long)BinaryPrimitives.ReadUInt32LittleEndian(span[20..]);
        if (indexStored > length - ContainerLayout.HeaderSize) throw new ContainerFormatException($"an index of {indexStored} bytes does not fit the file", 16);
        if (indexDecoded > ContainerLayout.MaxIndex) throw new ContainerFormatException($"the index declares {indexDecoded} decoded bytes, more than the limit", 20);
        if (!ContainerLimits.ExpansionAllowed(indexStored, indexDecoded))
            throw new ContainerFormatException($"the index claims {indexDecoded} decoded bytes from {indexStored} stored, beyond the expansion limit", 20);
        var indexBytes = span.Slice(ContainerLayout.HeaderSize, (int)indexStored);
        var data = span[(ContainerLayout.HeaderSize + (int)indexStored)..];
        var dataOffset = ContainerLayout.HeaderSize + indexStored;

        // Checksums first: damage is reported as damage, not as whatever field it happened to hit.
        if (Crc32.Append(Crc32.Compute(span[..24]), indexBytes) != BinaryPrimitives.ReadUInt32LittleEndian(span[24..]))
            throw new ContainerFormatException("the index checksum does not match (the file is damaged)", 24);
        if (Crc32.Compute(data) != BinaryPrimitives.ReadUInt32LittleEndian(span[28..]))
            throw new ContainerFormatException("the data checksum does not match (the file is damaged)", 28);

        var index = DecodeIndex(indexEncoding, indexBytes, (int)indexDecoded);
        var reader = new IndexReader(index, ContainerLayout.HeaderSize);
        var utf8 = new UTF8Encoding(false, throwOnInvalidBytes: true);
        string Text(ReadOnlySpan<byte> bytes, string what)
        {
            try { return utf8.GetString(bytes); }
            catch (DecoderFallbackException) { throw reader.Error($"the {what} is not UTF-8"); }
        }

        var metadata = Text(reader.Blob((int)ContainerLayout.MaxMetadata, "metadata"), "metadata");
        var modelLength = reader.Int((int)ContainerLayout.MaxGraph, "model length");
        var modelStart = reader.Position;
        reader.Bytes(modelLength, "model");
        var graphLength = reader.Int((int)(ContainerLayout.MaxGraph - modelLength), "graph length");
        var graphStart = reader.Position;
        reader.Bytes(graphLength, "graph");

        var count = reader.Int((int)ContainerLayout.MaxTensors, "tensor count");
        var tensors = new List<ContainerTensorInfo>(Math.Min(count, 4096));
        var planes = new List<PlaneCode[]?>(Math.Min(count, 4096));
        var names = new HashSet<string>(StringComparer.Ordinal);
        long decodedTotal = 0, dataUsed = 0, inlineUsed = 0;
        for (var i = 0; i < count; i++)
        {
            var name = Text(reader.Blob(ContainerLayout.MaxName, "tensor name"), "tensor name");
            if (name.Length == 0) throw reader.Error($"tensor {i} has an empty name");
            if (!names.Add(name)) throw reader.Error($"tensor name '{name}' appears twice");
            var type = reader.Byte();
            var size = ContainerLayout.ElementSize(type);
            if (size == 0) throw reader.Error($"tensor '{name}' has unknown element type {type}");
            var encoding = (TensorEncoding)reader.Byte();
            if (encoding is not (TensorEncoding.Rans or TensorEncoding.Inline)) throw reader.Error($"tensor '{name}' has unknown encoding {(byte)encoding}");
            var rank = reader.Byte();
            if (rank > ContainerLayout.MaxRank) throw reader.Error($"tensor '{name}' has rank {rank}");
            var dims = new long[rank];
            long elements = 1;
            for (var d = 0; d < rank; d++)
            {
                dims[d] = (long)reader.Varint((ulong)ContainerLayout.MaxDecodedTotal, $"tensor '{name}' dimension");
                elements *= dims[d];
                if (elements > ContainerLayout.MaxDecodedTotal) throw reader.Error($"tensor '{name}' is too large");
            }
            var decoded = elements * size;
            if (decoded > Array.MaxLength) throw reader.Error($"tensor '{name}' is too large");
            decodedTotal += decoded;
            if (decodedTotal > ContainerLayout.MaxDecodedTotal) throw reader.Error("the tensors decode to more than 2 GiB");
            if (encoding == TensorEncoding.Inline)
            {
                tensors.Add(new ContainerTensorInfo(name, type, dims, encoding, inlineUsed, decoded, decoded));
                planes.Add(null);
                inlineUsed += decoded;
                continue;
            }
            var codes = new PlaneCode[size];
            long stored = 0;
            for (var p = 0; p < size; p++)
            {
                codes[p] = PlaneCoding.Read(reader, (int)elements);
                stored += codes[p].PayloadLength;
            }
            if (!ContainerLimits.ExpansionAllowed(stored, decoded))
                throw reader.Error($"tensor '{name}' claims {decoded} decoded bytes from {stored} stored, beyond the expansion limit");
            if (stored > data.Length - dataUsed) throw reader.Error($"tensor '{name}' runs past the end of the data section");
            tensors.Add(new ContainerTensorInfo(name, type, dims, encoding, dataOffset + dataUsed, stored, decoded));
            planes.Add(codes);
            dataUsed += stored;
        }
        if (inlineUsed != reader.Remaining)
            throw reader.Error($"the inline tensors take {inlineUsed} bytes but the index has {reader.Remaining} left");
        if (dataUsed != data.Length)
            throw new ContainerFormatException($"the data section has {data.Length} bytes but its tensors take {dataUsed}: it was cut or appended to", dataOffset + Math.Min(dataUsed, data.Length));
        var inlineStart = reader.Position;
        for (var i = 0; i < tensors.Count; i++)
            if (tensors[i].Encoding == TensorEncoding.Inline) tensors[i] = tensors[i] with { Offset = inlineStart + tensors[i].Offset };
        return new ModelContainer(file, 2, metadata, index.AsMemory(modelStart, modelLength), index.AsMemory(graphStart, graphLength), tensors, planes, index);
    }

    static byte[] DecodeIndex(byte encoding, ReadOnlySpan<byte> stored, int decodedLength)
    {
        if (encoding == 0)
            return stored.Length == decodedLength ? stored.ToArray() : throw new ContainerFormatException("the raw index has the wrong length", 20);
        if (encoding != 1) throw new ContainerFormatException($"the index has unknown encoding {encoding}", 12);
        var decoded = new byte[decodedLength];
        // The stream must end exactly at the stored length: TryDecompress would accept bytes appended after its end.
        using var decoder = new BrotliDecoder();
        if (decoder.Decompress(stored, decoded, out var consumed, out var written) != System.Buffers.OperationStatus.Done
            || consumed != stored.Length || written != decoded.Length)
            throw new ContainerFormatException("the index does not decode to exactly its declared length from its stored length", ContainerLayout.HeaderSize);
        return decoded;
    }

    /// <summary>Decodes a version-2 tensor into <paramref name="destination"/> (its decoded length).</summary>
    public static void Decode(byte[] file, byte[] index, ContainerTensorInfo t, PlaneCode[]? planes, Span<byte> destination)
    {
        var size = ContainerLayout.ElementSize(t.ElementType);
        if (t.Encoding == TensorEncoding.Inline) PlaneCoding.Join(index.AsSpan((int)t.Offset, (int)t.DecodedLength), size, destination);
        else PlaneCoding.Decode(file.AsSpan((int)t.Offset, (int)t.StoredLength), planes!, destination, t.Offset);
    }
}

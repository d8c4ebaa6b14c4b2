using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace ModelBuildTasks.Container;

/// <summary>
/// Reads version-1 containers (docs/format.md, "Version 1"), which users' caches and apps built
/// before version 2 still hold. Nothing writes them any more; the checks are those of version 1.
/// </summary>
static class ContainerV1
{
    public static ModelContainer Read(byte[] file)
    {
        long length = file.Length;
        if (length < ContainerLayout.HeaderSizeV1) throw new ContainerFormatException($"the file has {length} bytes, less than the 64-byte header of version 1", 0);
        var span = file.AsSpan();
        var alignment = BinaryPrimitives.ReadUInt32LittleEndian(span[12..]);
        if (alignment is < 8 or > 4096 || (alignment & (alignment - 1)) != 0) throw new ContainerFormatException($"invalid alignment {alignment}", 12);

        var metadataOffset = Section(span, 16, ContainerLayout.HeaderSizeV1, ContainerLayout.MaxMetadata, length, out var metadataLength);
        var graphOffset = Section(span, 32, metadataOffset + metadataLength, ContainerLayout.MaxGraph, length, out var graphLength);
        var tableOffset = ReadOffset(span, 48, graphOffset + graphLength, length);
        var count = BinaryPrimitives.ReadUInt32LittleEndian(span[56..]);
        if (count > ContainerLayout.MaxTensors) throw new ContainerFormatException($"{count} tensors is more than the limit", 56);
        if (graphLength < 8) throw new ContainerFormatException("the graph section is too short", graphOffset);

        // The table: parse every entry, bounded by the file, before touching any tensor data.
        var tensors = new List<ContainerTensorInfo>((int)Math.Min(count, 4096));
        var crcs = new List<uint>((int)Math.Min(count, 4096));
        var names = new HashSet<string>(StringComparer.Ordinal);
        var cursor = tableOffset;
        long decodedTotal = 0;
        var utf8 = new UTF8Encoding(false, throwOnInvalidBytes: true);
        for (var i = 0; i < count; i++)
        {
            var entry = cursor;
            Need(cursor, 2, length);
            var nameLength = BinaryPrimitives.ReadUInt16LittleEndian(span[(int)cursor..]); cursor += 2;
            if (nameLength is 0 or > ContainerLayout.MaxName) throw new ContainerFormatException($"tensor {i} has a name of {nameLength} bytes", entry);
            Need(cursor, nameLength + 4, length);
            string name;
            try { name = utf8.GetString(span.Slice((int)cursor, nameLength)); }
            catch (DecoderFallbackException) { throw new ContainerFormatException($"tensor {i} has a name that is not UTF-8", cursor); }
            if (!names.Add(name)) throw new ContainerFormatException($"tensor name '{name}' appears twice", cursor);
            cursor += nameLength;
            var type = span[(int)cursor];
            var encoding = (TensorEncoding)span[(int)cursor + 1];
            var rank = span[(int)cursor + 2];
            cursor += 4;
            var size = ContainerLayout.ElementSize(type);
            if (size == 0) throw new ContainerFormatException($"tensor '{name}' has unknown element type {type}", cursor - 4);
            if (encoding is not (TensorEncoding.Raw or TensorEncoding.Brotli or TensorEncoding.Huffman or TensorEncoding.SparseHuffman))
                throw new ContainerFormatException($"tensor '{name}' has unknown encoding {(byte)encoding}", cursor - 3);
            if (rank > ContainerLayout.MaxRank) throw new ContainerFormatException($"tensor '{name}' has rank {rank}", cursor - 2);
            Need(cursor, 8L * rank + 32, length);
            var dims = new long[rank];
            long elements = 1;
            for (var d = 0; d < rank; d++)
            {
                dims[d] = BinaryPrimitives.ReadInt64LittleEndian(span[(int)cursor..]);
                if (dims[d] < 0 || dims[d] > ContainerLayout.MaxDecodedTotal) throw new ContainerFormatException($"tensor '{name}' has an invalid dimension {dims[d]}", cursor);
                elements *= dims[d];
                if (elements > ContainerLayout.MaxDecodedTotal) throw new ContainerFormatException($"tensor '{name}' is too large", cursor);
                cursor += 8;
            }
            var offset = (long)BinaryPrimitives.ReadUInt64LittleEndian(span[(int)cursor..]);
            var stored = (long)BinaryPrimitives.ReadUInt64LittleEndian(span[(int)(cursor + 8)..]);
            var decoded = (long)BinaryPrimitives.ReadUInt64LittleEndian(span[(int)(cursor + 16)..]);
            var crc = BinaryPrimitives.ReadUInt32LittleEndian(span[(int)(cursor + 24)..]);
            if (decoded != elements * size) throw new ContainerFormatException($"tensor '{name}' declares {decoded} bytes but its shape needs {elements * size}", cursor + 16);
            if (decoded > Array.MaxLength) throw new ContainerFormatException($"tensor '{name}' is too large", cursor + 16); // as version 2 refuses it
            decodedTotal += decoded;
            if (decodedTotal > ContainerLayout.MaxDecodedTotal) throw new ContainerFormatException("the tensors decode to more than 2 GiB", cursor + 16);
            if (!ContainerLimits.ExpansionAllowed(stored, decoded))
                throw new ContainerFormatException($"tensor '{name}' claims {decoded} decoded bytes from {stored} stored, beyond the expansion limit", cursor + 16);
            if (encoding == TensorEncoding.Raw && stored != decoded) throw new ContainerFormatException($"raw tensor '{name}' stores {stored} bytes, not {decoded}", cursor + 8);
            if (encoding is TensorEncoding.Huffman or TensorEncoding.SparseHuffman && size != 1)
                throw new ContainerFormatException($"tensor '{name}' uses an entropy coding, which needs 1-byte elements", cursor - 3);
            tensors.Add(new ContainerTensorInfo(name, type, dims, encoding, offset, stored, decoded));
            crcs.Add(crc);
            cursor += 32;
        }
        var tableEnd = cursor;

        var expected = Crc32.Append(0, span[..60]);
        expected = Crc32.Append(expected, span[(int)metadataOffset..(int)tableEnd]);
        if (expected != BinaryPrimitives.ReadUInt32LittleEndian(span[60..])) throw new ContainerFormatException("the index checksum does not match (the file is damaged)", 60);

        for (var i = 0; i < tensors.Count; i++)
        {
            var t = tensors[i];
            if (t.Offset < tableEnd || t.Offset % alignment != 0 || t.StoredLength < 0 || t.Offset > length || t.StoredLength > length - t.Offset)
                throw new ContainerFormatException($"tensor '{t.Name}' lies outside the data section or is misaligned", t.Offset);
            if (Crc32.Compute(span.Slice((int)t.Offset, (int)t.StoredLength)) != crcs[i])
                throw new ContainerFormatException($"tensor '{t.Name}' is damaged (checksum mismatch)", t.Offset);
        }
        // The writer padded the file to the alignment after its last part: any other length was cut or appended to.
        long lastEnd = tensors.Count == 0 ? tableEnd : tensors.Max(t => t.Offset + t.StoredLength);
        var paddedEnd = (lastEnd + alignment - 1) / alignment * alignment;
        if (length != paddedEnd) throw new ContainerFormatException($"the file has {length} bytes but its parts end at {paddedEnd}: it was cut or appended to", Math.Min(length, paddedEnd));

        string metadata;
        try { metadata = utf8.GetString(span.Slice((int)metadataOffset, (int)metadataLength)); }
        catch (DecoderFallbackException) { throw new ContainerFormatException("the metadata is not UTF-8", metadataOffset); }
        var graph = DecodeGraph(span.Slice((int)graphOffset, (int)graphLength), graphOffset);
        var modelLength = BinaryPrimitives.ReadUInt32LittleEndian(graph);
        if (modelLength > graph.Length - 4) throw new ContainerFormatException("the graph section's model part is longer than the section", graphOffset + 8);
        return new ModelContainer(file, 1, metadata, graph.AsMemory(4, (int)modelLength), graph.AsMemory(4 + (int)modelLength), tensors, new PlaneCode[]?[tensors.Count], []);
    }

    /// <summary>The decoded bytes of a version-1 tensor.</summary>
    public static byte[] Decode(byte[] file, ContainerTensorInfo t)
    {
        var stored = file.AsMemory((int)t.Offset, (int)t.StoredLength);
        switch (t.Encoding)
        {
            case TensorEncoding.Raw: return stored.ToArray();
            case TensorEncoding.Huffman: return EntropyCoding.DecodeHuffman(stored, t.DecodedLength, t.Offset);
            case TensorEncoding.SparseHuffman: return EntropyCoding.DecodeSparse(stored, t.DecodedLength, t.Offset);
        }
        var decoded = new byte[t.DecodedLength];
        if (!BrotliDecoder.TryDecompress(stored.Span, decoded, out var written) || written != decoded.Length)
            throw new ContainerFormatException($"tensor '{t.Name}' does not decode to {t.DecodedLength} bytes", t.Offset);
        return decoded;
    }

    // encoding (0 raw, 1 brotli), 3 reserved, u32 decoded length, then the encoded [u32 model_length][model][graph].
    static byte[] DecodeGraph(ReadOnlySpan<byte> section, long offset)
    {
        var encoding = section[0];
        var decodedLength = BinaryPrimitives.ReadUInt32LittleEndian(section[4..]);
        if (decodedLength < 4 || decodedLength > ContainerLayout.MaxGraph) throw new ContainerFormatException($"the graph section declares {decodedLength} decoded bytes", offset + 4);
        var body = section[8..];
        if (!ContainerLimits.ExpansionAllowed(body.Length, decodedLength))
            throw new ContainerFormatException($"the graph section claims {decodedLength} decoded bytes from {body.Length} stored, beyond the expansion limit", offset + 4);
        if (encoding == 0)
            return body.Length == decodedLength ? body.ToArray() : throw new ContainerFormatException("the raw graph section has the wrong length", offset + 4);
        if (encoding != 1) throw new ContainerFormatException($"the graph section has unknown encoding {encoding}", offset);
        var decoded = new byte[decodedLength];
        if (!BrotliDecoder.TryDecompress(body, decoded, out var written) || written != decoded.Length)
            throw new ContainerFormatException("the graph section does not decode to its declared length", offset + 8);
        return decoded;
    }

    static long Section(ReadOnlySpan<byte> header, int at, long minimum, long limit, long fileLength, out long sectionLength)
    {
        var offset = ReadOffset(header, at, minimum, fileLength);
        sectionLength = (long)BinaryPrimitives.ReadUInt64LittleEndian(header[(at + 8)..]);
        if (sectionLength < 0 || sectionLength > limit || sectionLength > fileLength - offset)
            throw new ContainerFormatException($"a section of {sectionLength} bytes at {offset} does not fit the file", at + 8);
        return offset;
    }

    static long ReadOffset(ReadOnlySpan<byte> header, int at, long minimum, long fileLength)
    {
        var offset = (long)BinaryPrimitives.ReadUInt64LittleEndian(header[at..]);
        if (offset < minimum || offset > fileLength) throw new ContainerFormatException($"section offset {offset} is out of order or outside the file", at);
        return offset;
    }

    static void Need(long cursor, long bytes, long length)
    {
        if (bytes > length - cursor) throw new ContainerFormatException("the tensor table is truncated", cursor);
    }
}

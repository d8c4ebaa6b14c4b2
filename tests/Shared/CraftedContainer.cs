using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace ModelBuildTasks.Tests;

/// <summary>
/// Writes version-2 containers field by field with any values a hostile writer might choose, and with
/// valid checksums, so that tests reach the reader's checks behind the CRCs (what a crafted file does).
/// Uses only the format as docs/format.md describes it, not the library's internals.
/// </summary>
static class CraftedContainer
{
    public const byte Rans = 4, Inline = 5;

    /// <summary>
    /// A table entry: <paramref name="Table"/> is everything after the dims (a rANS tensor's plane
    /// descriptions), written as it is; <paramref name="Stored"/> is a rANS tensor's payload in the data
    /// section, or an inline tensor's bytes in the index.
    /// </summary>
    public sealed record Entry(string Name, byte ElementType, byte Encoding, long[] Dims, byte[] Table, byte[] Stored);

    /// <summary>What a container holds, as crafting parts.</summary>
    public sealed record Parts(string Metadata, byte[] Model, byte[] Graph, List<Entry> Entries);

    /// <summary>The decoded index of <paramref name="parts"/>.</summary>
    public static byte[] Index(Parts parts)
    {
        var index = new MemoryStream();
        Blob(index, Encoding.UTF8.GetBytes(parts.Metadata));
        Blob(index, parts.Model);
        Blob(index, parts.Graph);
        Varint(index, (ulong)parts.Entries.Count);
        foreach (var e in parts.Entries)
        {
            Blob(index, Encoding.UTF8.GetBytes(e.Name));
            index.WriteByte(e.ElementType);
            index.WriteByte(e.Encoding);
            index.WriteByte((byte)e.Dims.Length);
            foreach (var d in e.Dims) Varint(index, (ulong)d);
            index.Write(e.Table);
        }
        foreach (var e in parts.Entries.Where(e => e.Encoding == Inline)) index.Write(e.Stored);
        return index.ToArray();
    }

    /// <summary>A container of <paramref name="parts"/>: the index Brotli-coded (or raw), the other entries' bytes in the data section, checksums valid.</summary>
    public static byte[] Build(Parts parts, bool brotliIndex = true)
    {
        var index = Index(parts);
        var data = parts.Entries.Where(e => e.Encoding != Inline).SelectMany(e => e.Stored).ToArray();
        return brotliIndex ? Seal(1, Brotli(index), (uint)index.Length, data) : Seal(0, index, (uint)index.Length, data);
    }

    /// <summary>A file from its sections, with any declared values; both checksums valid.</summary>
    public static byte[] Seal(byte indexEncoding, byte[] indexStored, uint declaredIndexLength, byte[] data)
    {
        var file = new byte[32 + indexStored.Length + data.Length];
        "MBTMODEL"u8.CopyTo(file);
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(8), 2);
        file[12] = indexEncoding;
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(16), (uint)indexStored.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(20), declaredIndexLength);
        indexStored.CopyTo(file, 32);
        data.CopyTo(file, 32 + indexStored.Length);
        Reseal(file);
        return file;
    }

    /// <summary>Recomputes both checksums after an edit, as far as the header's index length allows.</summary>
    public static void Reseal(byte[] file)
    {
        if (file.Length < 32) return;
        var indexLength = (int)Math.Min(BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(16)), file.Length - 32);
        var crc = ModelBuildTasks.Container.Crc32.Append(ModelBuildTasks.Container.Crc32.Compute(file.AsSpan(0, 24)), file.AsSpan(32, indexLength));
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(24), crc);
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(28), ModelBuildTasks.Container.Crc32.Compute(file.AsSpan(32 + indexLength)));
    }

    /// <summary>The decoded index of an existing container.</summary>
    public static byte[] IndexOf(byte[] container)
    {
        var stored = container.AsSpan(32, (int)BinaryPrimitives.ReadUInt32LittleEndian(container.AsSpan(16)));
        if (container[12] == 0) return stored.ToArray();
        var index = new byte[BinaryPrimitives.ReadUInt32LittleEndian(container.AsSpan(20))];
        if (!BrotliDecoder.TryDecompress(stored, index, out var written) || written != index.Length) throw new InvalidDataException("not a valid index");
        return index;
    }

    /// <summary>The parts of an existing (valid) container, to craft around a real model.</summary>
    public static Parts PartsOf(byte[] container)
    {
        var index = IndexOf(container);
        var at = 0;
        var metadata = Encoding.UTF8.GetString(ReadBlob(index, ref at));
        var model = ReadBlob(index, ref at).ToArray();
        var graph = ReadBlob(index, ref at).ToArray();
        var count = (int)ReadVarint(index, ref at);
        var entries = new List<Entry>();
        var payloads = new List<long>();
        for (var i = 0; i < count; i++)
        {
            var name = Encoding.UTF8.GetString(ReadBlob(index, ref at));
            var type = index[at++];
            var encoding = index[at++];
            var dims = new long[index[at++]];
            for (var d = 0; d < dims.Length; d++) dims[d] = (long)ReadVarint(index, ref at);
            var elements = dims.Aggregate(1L, (a, d) => a * d);
            var tableStart = at;
            long payload = 0;
            if (encoding == Rans)
                for (var p = 0; p < ElementSize(type); p++)
                {
                    var kind = index[at++];
                    if (kind == 0) { payload += elements; continue; }
                    var k = (int)ReadVarint(index, ref at);
                    for (var s = 0; s < k + (kind == 2 ? k * k : k); s++) ReadVarint(index, ref at);
                    payload += (long)ReadVarint(index, ref at);
                }
            else payload = elements * ElementSize(type);
            entries.Add(new Entry(name, type, encoding, dims, index[tableStart..at], []));
            payloads.Add(payload);
        }
        var data = 32 + (int)BinaryPrimitives.ReadUInt32LittleEndian(container.AsSpan(16));
        for (var i = 0; i < entries.Count; i++)
        {
            var length = (int)payloads[i];
            if (entries[i].Encoding == Inline) { entries[i] = entries[i] with { Stored = index[at..(at + length)] }; at += length; }
            else { entries[i] = entries[i] with { Stored = container[data..(data + length)] }; data += length; }
        }
        return new Parts(metadata, model, graph, entries);
    }

    /// <summary>An order-0 plane description: the symbols, their frequencies (summing to 2^15 for a valid one) and the payload's length.</summary>
    public static byte[] Order0Plane(byte[] symbols, int[] freqs, int payloadLength)
    {
        var s = new MemoryStream();
        s.WriteByte(1);
        Varint(s, (ulong)symbols.Length);
        var previous = -1;
        foreach (var symbol in symbols) { Varint(s, (ulong)(symbol - previous - 1)); previous = symbol; }
        foreach (var f in freqs) Varint(s, (ulong)f);
        Varint(s, (ulong)payloadLength);
        return s.ToArray();
    }

    public static int ElementSize(byte type) => type switch
    {
        1 or 6 or 12 => 4,
        2 or 3 or 9 => 1,
        4 or 5 or 10 or 16 => 2,
        7 or 11 or 13 => 8,
        _ => 1,
    };

    public static byte[] Brotli(byte[] data)
    {
        var buffer = new byte[BrotliEncoder.GetMaxCompressedLength(data.Length)];
        BrotliEncoder.TryCompress(data, buffer, out var written, 5, 22);
        return buffer[..written];
    }

    public static void Varint(Stream s, ulong value)
    {
        while (value >= 0x80) { s.WriteByte((byte)(value | 0x80)); value >>= 7; }
        s.WriteByte((byte)value);
    }

    static void Blob(Stream s, byte[] value)
    {
        Varint(s, (ulong)value.Length);
        s.Write(value);
    }

    static ulong ReadVarint(byte[] b, ref int at)
    {
        ulong value = 0;
        for (var shift = 0; ; shift += 7)
        {
            var x = b[at++];
            value |= (ulong)(x & 0x7F) << shift;
            if (x < 0x80) return value;
        }
    }

    static ReadOnlySpan<byte> ReadBlob(byte[] b, ref int at)
    {
        var length = (int)ReadVarint(b, ref at);
        var span = b.AsSpan(at, length);
        at += length;
        return span;
    }
}

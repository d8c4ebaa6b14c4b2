using System.Buffers.Binary;
using System.Text;
using ModelBuildTasks.Container;

namespace ModelBuildTasks.Tests;

/// <summary>
/// Writes version-1 containers field by field with any values a hostile writer might choose, and with
/// valid checksums, so that tests reach the version-1 reader's checks behind the CRCs (what a crafted
/// file does). Nothing writes version 1 any more: the real files come from the committed fixture.
/// </summary>
static class CraftedContainerV1
{
    public sealed record Entry(string Name, byte ElementType, byte Encoding, long[] Dims, byte[] Stored, long DecodedLength);

    /// <summary>A container; <paramref name="graphPlain"/> is <c>[u32 model_length][model][graph]</c>, stored raw unless <paramref name="graphSection"/> replaces the whole section.</summary>
    public static byte[] Build(string metadataJson, byte[] graphPlain, IReadOnlyList<Entry> entries, byte[]? graphSection = null)
    {
        var metadata = Encoding.UTF8.GetBytes(metadataJson);
        if (graphSection is null)
        {
            graphSection = new byte[8 + graphPlain.Length];
            BinaryPrimitives.WriteUInt32LittleEndian(graphSection.AsSpan(4), (uint)graphPlain.Length);
            graphPlain.CopyTo(graphSection, 8);
        }
        var table = new MemoryStream();
        var tableOffset = 64L + metadata.Length + graphSection.Length;
        var tableLength = entries.Sum(e => 2 + Encoding.UTF8.GetByteCount(e.Name) + 4 + 8 * e.Dims.Length + 32);
        var offset = Align(tableOffset + tableLength);
        var offsets = new List<long>();
        foreach (var e in entries) { offsets.Add(offset); offset = Align(offset + e.Stored.Length); }
        var file = new byte[offset];
        "MBTMODEL"u8.CopyTo(file);
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(8), 1);
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(12), 32);
        BinaryPrimitives.WriteUInt64LittleEndian(file.AsSpan(16), 64);
        BinaryPrimitives.WriteUInt64LittleEndian(file.AsSpan(24), (ulong)metadata.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(file.AsSpan(32), (ulong)(64 + metadata.Length));
        BinaryPrimitives.WriteUInt64LittleEndian(file.AsSpan(40), (ulong)graphSection.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(file.AsSpan(48), (ulong)tableOffset);
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(56), (uint)entries.Count);
        metadata.CopyTo(file, 64);
        graphSection.CopyTo(file, 64 + metadata.Length);
        var cursor = (int)tableOffset;
        for (var i = 0; i < entries.Count; i++)
        {
            var e = entries[i];
            var name = Encoding.UTF8.GetBytes(e.Name);
            BinaryPrimitives.WriteUInt16LittleEndian(file.AsSpan(cursor), (ushort)name.Length); cursor += 2;
            name.CopyTo(file, cursor); cursor += name.Length;
            file[cursor++] = e.ElementType; file[cursor++] = e.Encoding; file[cursor++] = (byte)e.Dims.Length; file[cursor++] = 0;
            foreach (var d in e.Dims) { BinaryPrimitives.WriteInt64LittleEndian(file.AsSpan(cursor), d); cursor += 8; }
            BinaryPrimitives.WriteUInt64LittleEndian(file.AsSpan(cursor), (ulong)offsets[i]); cursor += 8;
            BinaryPrimitives.WriteUInt64LittleEndian(file.AsSpan(cursor), (ulong)e.Stored.Length); cursor += 8;
            BinaryPrimitives.WriteUInt64LittleEndian(file.AsSpan(cursor), (ulong)e.DecodedLength); cursor += 8;
            BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(cursor), ModelBuildTasks.Container.Crc32.Compute(e.Stored)); cursor += 4;
            cursor += 4;
            e.Stored.CopyTo(file, offsets[i]);
        }
        Reseal(file);
        return file;
    }

    /// <summary>The graph part of an existing container (decoded), to craft around a real model.</summary>
    public static byte[] GraphOf(byte[] container)
    {
        var at = (int)BinaryPrimitives.ReadUInt64LittleEndian(container.AsSpan(32));
        var length = (int)BinaryPrimitives.ReadUInt64LittleEndian(container.AsSpan(40));
        var section = container.AsSpan(at, length);
        var decoded = new byte[BinaryPrimitives.ReadUInt32LittleEndian(section[4..])];
        if (section[0] == 0) section[8..].CopyTo(decoded);
        else System.IO.Compression.BrotliDecoder.TryDecompress(section[8..], decoded, out _);
        return decoded;
    }

    /// <summary>The version-1 fixture: a small model with every version-1 encoding in it (raw, Brotli, Huffman, sparse-Huffman).</summary>
    public static byte[] Fixture => File.ReadAllBytes(Path.Combine(TestPaths.RepoRoot, "tests/ModelBuildTasks.Engine.Tests/Fixtures/container-v1.cmodel"));

    /// <summary>The tensor table of an existing container, as crafting entries (stored bytes copied).</summary>
    public static List<Entry> EntriesOf(byte[] container) =>
        ModelContainer.Read(container).Tensors.Select(t => new Entry(t.Name, (byte)t.ElementType, (byte)t.Encoding, t.Dims,
            container.AsSpan((int)t.Offset, (int)t.StoredLength).ToArray(), t.DecodedLength)).ToList();

    /// <summary>The metadata JSON of an existing container.</summary>
    public static string MetadataOf(byte[] container) => ModelContainer.Read(container).MetadataJson;

    /// <summary>Recomputes the index checksum (header, metadata, graph and table) after an edit.</summary>
    public static void Reseal(byte[] file)
    {
        if (file.Length < 64) return;
        var metadataOffset = (long)Math.Min(BinaryPrimitives.ReadUInt64LittleEndian(file.AsSpan(16)), int.MaxValue);
        var tableOffset = BinaryPrimitives.ReadUInt64LittleEndian(file.AsSpan(48));
        var count = BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(56));
        if (metadataOffset < 64 || metadataOffset > file.Length || tableOffset > (ulong)file.Length) return;
        var cursor = (long)tableOffset;
        for (var i = 0; i < count && cursor + 2 <= file.Length; i++)
        {
            var nameLength = BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan((int)cursor));
            if (cursor + 2 + nameLength + 4 > file.Length) { cursor = file.Length; break; }
            var rank = file[cursor + 2 + nameLength + 2];
            cursor = Math.Min(file.Length, cursor + 2 + nameLength + 4 + 8L * rank + 32);
        }
        if (cursor < metadataOffset) return;
        var crc = ModelBuildTasks.Container.Crc32.Append(0, file.AsSpan(0, 60));
        crc = ModelBuildTasks.Container.Crc32.Append(crc, file.AsSpan((int)metadataOffset, (int)(cursor - metadataOffset)));
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(60), crc);
    }

    static long Align(long value) => (value + 31) / 32 * 32;
}

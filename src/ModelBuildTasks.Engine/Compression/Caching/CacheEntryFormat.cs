using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using ModelBuildTasks.Container;

namespace ModelBuildTasks.Compression.Caching;

/// <summary>
/// One remote cache entry as a single object: the report and the container together, so one
/// conditional upload stores both or neither (two objects could be seen half-written).
/// Layout: <c>"MBTCACHE"</c>, format version (u32 LE), report length (u32 LE), the report's JSON
/// (UTF-8), then the container to the end.
/// </summary>
public static class CacheEntryFormat
{
    static ReadOnlySpan<byte> Magic => "MBTCACHE"u8;
    const uint Version = 1;
    const int HeaderLength = 16;

    /// <summary>Packs a container and its report into one entry.</summary>
    public static byte[] Encode(byte[] container, CompressionReport report)
    {
        var json = Encoding.UTF8.GetBytes(report.ToJson());
        var entry = new byte[HeaderLength + json.Length + container.Length];
        Magic.CopyTo(entry);
        BinaryPrimitives.WriteUInt32LittleEndian(entry.AsSpan(8), Version);
        BinaryPrimitives.WriteUInt32LittleEndian(entry.AsSpan(12), (uint)json.Length);
        json.CopyTo(entry, HeaderLength);
        container.CopyTo(entry, HeaderLength + json.Length);
        return entry;
    }

    /// <summary>
    /// Unpacks and verifies an entry: its framing, the report, the SHA-256 the report records for the
    /// container, and the container's own checksums and structure. Null when anything is wrong.
    /// </summary>
    public static (byte[] Container, CompressionReport Report)? TryDecode(ReadOnlySpan<byte> entry)
    {
        if (entry.Length < HeaderLength || !entry[..8].SequenceEqual(Magic) || BinaryPrimitives.ReadUInt32LittleEndian(entry[8..]) != Version) return null;
        var reportLength = BinaryPrimitives.ReadUInt32LittleEndian(entry[12..]);
        if (reportLength > entry.Length - HeaderLength) return null;
        var container = entry[(HeaderLength + (int)reportLength)..].ToArray();
        try
        {
            var report = CompressionReport.Parse(Encoding.UTF8.GetString(entry.Slice(HeaderLength, (int)reportLength)));
            if (report is null || report.ContainerSha256 != Convert.ToHexStringLower(SHA256.HashData(container))) return null;
            ModelContainer.Read(container); // checksums and structure
            return (container, report);
        }
        catch (Exception e) when (e is ContainerFormatException or System.Text.Json.JsonException or ArgumentException or DecoderFallbackException)
        {
            return null;
        }
    }
}

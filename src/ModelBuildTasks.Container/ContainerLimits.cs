namespace ModelBuildTasks.Container;

/// <summary>
/// The resource limits every reader enforces, for both format versions (docs/format.md, "Limits").
/// They bound what a file can make a reader allocate: a crafted file of S bytes never costs more
/// than a few hundred times S, and never more than the caps below, whatever its header claims.
/// </summary>
public static class ContainerLimits
{
    /// <summary>The largest container a reader accepts, in bytes (the largest .NET array).</summary>
    public const long MaxFileLength = 0x7FFFFFC7;

    /// <summary>At most this many bytes of JSON metadata.</summary>
    public const long MaxMetadata = ContainerLayout.MaxMetadata;

    /// <summary>At most this many decoded bytes of graph (the model and graph messages together).</summary>
    public const long MaxGraph = ContainerLayout.MaxGraph;

    /// <summary>A version-2 index (metadata, graph, tensor table and inline tensors) decodes to at most this many bytes.</summary>
    public const long MaxIndex = ContainerLayout.MaxIndex;

    /// <summary>At most this many tensors.</summary>
    public const uint MaxTensors = ContainerLayout.MaxTensors;

    /// <summary>All tensors together decode to at most this many bytes.</summary>
    public const long MaxDecodedTotal = ContainerLayout.MaxDecodedTotal;

    /// <summary>
    /// A coded part (a tensor, the version-2 index, or the version-1 graph section) decodes to at most
    /// <see cref="ExpansionAllowance"/> + <see cref="MaxExpansion"/> x its stored bytes. Real weights
    /// compress 2-30x; the ratio is what stops a few bytes of Brotli or sparse code from claiming gigabytes.
    /// </summary>
    public const long MaxExpansion = 256;

    /// <summary>The constant part of the expansion bound, so tiny all-zero tensors stay codable.</summary>
    public const long ExpansionAllowance = 4096;

    /// <summary>True when <paramref name="decodedLength"/> bytes may be stored in <paramref name="storedLength"/> bytes.</summary>
    public static bool ExpansionAllowed(long storedLength, long decodedLength) =>
        storedLength >= 0 && decodedLength >= 0 && decodedLength <= ExpansionAllowance + MaxExpansion * Math.Min(storedLength, MaxFileLength);

    /// <summary>
    /// Reads <paramref name="stream"/> to its end, failing with <see cref="ContainerFormatException"/>
    /// as soon as more than <paramref name="limit"/> bytes arrive: a stream that never ends, or one
    /// that claims a huge length, costs at most the limit.
    /// </summary>
    public static byte[] ReadBounded(Stream stream, long limit = MaxFileLength)
    {
        if (stream.CanSeek)
        {
            var remaining = Math.Max(0, stream.Length - stream.Position);
            if (remaining > limit) throw new ContainerFormatException($"the stream holds {remaining} bytes, more than the limit of {limit}", 0);
            var bytes = new byte[remaining];
            try
            {
                stream.ReadExactly(bytes);
            }
            catch (EndOfStreamException)
            {
                // A file cut while it was read (or a stream whose Length says more than it gives): a cut container.
                throw new ContainerFormatException($"the stream ended before the {remaining} bytes its length claims", 0);
            }
            return bytes;
        }
        // Unknown length: fixed-size chunks, so the peak is the data plus one copy, never a doubling buffer past the limit.
        var chunks = new List<byte[]>();
        long total = 0;
        while (true)
        {
            var chunk = new byte[1 << 20];
            var filled = 0;
            int read;
            while (filled < chunk.Length && (read = stream.Read(chunk, filled, chunk.Length - filled)) > 0) filled += read;
            total += filled;
            if (total > limit) throw new ContainerFormatException($"the stream holds more than the limit of {limit} bytes", limit);
            if (filled < chunk.Length) { Array.Resize(ref chunk, filled); chunks.Add(chunk); break; }
            chunks.Add(chunk);
        }
        var result = new byte[total];
        long at = 0;
        foreach (var c in chunks) { c.CopyTo(result, at); at += c.Length; }
        return result;
    }
}

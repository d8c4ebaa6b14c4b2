namespace ModelBuildTasks.Data;

/// <summary>
/// The resource limits of dataset readers (docs/format.md, "Dataset limits"). Every size a file
/// declares is checked against them, and against what the file really holds, before anything is
/// allocated; decompression stops at the declared size, so a gzip or zip bomb costs at most what its
/// header claims, and a header can claim at most these caps.
/// </summary>
public static class DatasetLimits
{
    /// <summary>At most this many pixel values (N x C x H x W) in one dataset (4 GiB as floats). Readers allocate for what a file really holds, so a header claiming this much costs nothing unless the data is there.</summary>
    public const long MaxValues = 1L << 30;

    /// <summary>At most this many bytes in one dataset file, or decompressed from one (gzip, a .npz entry).</summary>
    public const long MaxFileBytes = 2L << 30;

    /// <summary>At most this many pixels (width x height) in one image of an image folder.</summary>
    public const long MaxImagePixels = Runtime.ImageDecoding.MaxImagePixels;

    /// <summary>The product of <paramref name="dims"/>, or an error when any is negative or the product passes <paramref name="cap"/> (checked as it grows, so it never overflows).</summary>
    public static long CheckedProduct(IEnumerable<long> dims, long cap, string path, string what)
    {
        long product = 1;
        foreach (var d in dims)
        {
            if (d < 0) throw DataErrors.Invalid(path, $"{what} has a negative dimension");
            if (d > 0 && product > cap / d) throw DataErrors.Invalid(path, $"{what} declares more than the limit of {cap:N0} values");
            product *= d;
        }
        return product;
    }

    /// <summary>
    /// Reads at most <paramref name="limit"/> bytes from <paramref name="stream"/> and requires it to end
    /// there: a stream (a decompressor) that produces more is an error as soon as it does.
    /// </summary>
    internal static byte[] ReadToEndBounded(Stream stream, long limit, string path, string what)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[1 << 16];
        int read;
        while ((read = stream.Read(chunk, 0, chunk.Length)) > 0)
        {
            if (buffer.Length + read > limit) throw DataErrors.Invalid(path, $"{what} holds more than the limit of {limit:N0} bytes");
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }
}

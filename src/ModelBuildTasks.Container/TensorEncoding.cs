namespace ModelBuildTasks.Container;

/// <summary>How a tensor's bytes are stored in the container. Numbers are never reused.</summary>
public enum TensorEncoding : byte
{
    /// <summary>The raw little-endian values.</summary>
    Raw = 0,
    /// <summary>Brotli-compressed raw values.</summary>
    Brotli = 1,
}

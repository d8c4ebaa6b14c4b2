namespace ModelBuildTasks.Container;

/// <summary>How a tensor's bytes are stored in the container. Numbers are never reused.</summary>
public enum TensorEncoding : byte
{
    /// <summary>The raw little-endian values.</summary>
    Raw = 0,
    /// <summary>Brotli-compressed raw values.</summary>
    Brotli = 1,
    /// <summary>Canonical Huffman codes of the bytes of a 1-byte tensor (int8, uint8).</summary>
    Huffman = 2,
    /// <summary>A 1-byte tensor with many zeros: Huffman-coded gaps between nonzero positions, each followed by its Huffman-coded value.</summary>
    SparseHuffman = 3,
}

namespace ModelBuildTasks.Container;

/// <summary>How a tensor's bytes are stored in the container. Numbers are never reused.</summary>
public enum TensorEncoding : byte
{
    /// <summary>Version 1: the raw little-endian values.</summary>
    Raw = 0,
    /// <summary>Version 1: Brotli-compressed raw values.</summary>
    Brotli = 1,
    /// <summary>Version 1: canonical Huffman codes of the bytes of a 1-byte tensor (int8, uint8).</summary>
    Huffman = 2,
    /// <summary>Version 1: a 1-byte tensor with many zeros: Huffman-coded gaps between nonzero positions, each followed by its Huffman-coded value.</summary>
    SparseHuffman = 3,
    /// <summary>Version 2: the elements' byte planes, each stored raw or rANS-coded (order 0 or 1), in the data section.</summary>
    Rans = 4,
    /// <summary>Version 2: the raw values (byte planes one after another) inside the index, which is coded as a whole.</summary>
    Inline = 5,
}

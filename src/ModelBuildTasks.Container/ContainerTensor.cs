namespace ModelBuildTasks.Container;

/// <summary>A tensor to write into a container, or one read from it (decoded).</summary>
/// <param name="Name">The initializer's name.</param>
/// <param name="ElementType">ONNX <c>TensorProto.DataType</c>.</param>
/// <param name="Dims">The dimensions.</param>
/// <param name="Data">The raw little-endian values.</param>
public sealed record ContainerTensor(string Name, int ElementType, long[] Dims, byte[] Data);

/// <summary>A tensor table entry as stored.</summary>
/// <param name="Name">The initializer's name.</param>
/// <param name="ElementType">ONNX <c>TensorProto.DataType</c>.</param>
/// <param name="Dims">The dimensions.</param>
/// <param name="Encoding">How the bytes are stored.</param>
/// <param name="Offset">Where the stored bytes start.</param>
/// <param name="StoredLength">Bytes in the file.</param>
/// <param name="DecodedLength">Bytes once decoded.</param>
/// <param name="Crc32">CRC-32 of the stored bytes.</param>
public sealed record ContainerTensorInfo(string Name, int ElementType, long[] Dims, TensorEncoding Encoding, long Offset, long StoredLength, long DecodedLength, uint Crc32);

/// <summary>How one tensor is stored, against what it could cost at best.</summary>
/// <param name="Name">The tensor.</param>
/// <param name="Encoding">The encoding chosen.</param>
/// <param name="DecodedBytes">Its raw size.</param>
/// <param name="StoredBytes">Its size in the container.</param>
/// <param name="EntropyBoundBytes">The order-0 entropy of its bytes: the bound for coding each byte alone.</param>
public sealed record TensorStorage(string Name, TensorEncoding Encoding, long DecodedBytes, long StoredBytes, double EntropyBoundBytes);

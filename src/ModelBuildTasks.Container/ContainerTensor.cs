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
/// <param name="Offset">Where the stored bytes start: in the file, or for <see cref="TensorEncoding.Inline"/> in the decoded index.</param>
/// <param name="StoredLength">Bytes stored (an inline tensor's raw bytes, which the index codes together with the graph).</param>
/// <param name="DecodedLength">Bytes once decoded.</param>
public sealed record ContainerTensorInfo(string Name, int ElementType, long[] Dims, TensorEncoding Encoding, long Offset, long StoredLength, long DecodedLength);

/// <summary>How one tensor is stored, against what it could cost at best.</summary>
/// <param name="Name">The tensor.</param>
/// <param name="Encoding">The encoding chosen.</param>
/// <param name="DecodedBytes">Its raw size.</param>
/// <param name="StoredBytes">Its size in the container; for <see cref="TensorEncoding.Inline"/> its raw bytes, which the index codes together with the graph (their share is not separable).</param>
/// <param name="EntropyBoundBytes">The order-0 entropy of its bytes: the bound for coding each byte alone (order-1 coding can go below it).</param>
public sealed record TensorStorage(string Name, TensorEncoding Encoding, long DecodedBytes, long StoredBytes, double EntropyBoundBytes);

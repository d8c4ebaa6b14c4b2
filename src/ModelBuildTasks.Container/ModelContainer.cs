using System.Buffers.Binary;

namespace ModelBuildTasks.Container;

/// <summary>
/// A container read into memory and fully validated (docs/format.md, "Validation"): every length
/// and offset is checked before anything is allocated, so a damaged or crafted file throws
/// <see cref="ContainerFormatException"/> and nothing else. Reads format versions 1 and 2.
/// </summary>
public sealed class ModelContainer
{
    readonly byte[] file;
    readonly ReadOnlyMemory<byte> model, graph;
    readonly IReadOnlyList<PlaneCode[]?> planes; // version 2, per tensor: its planes' codes (null when inline)
    readonly byte[] index;                        // version 2: the decoded index, which holds the inline tensors

    internal ModelContainer(byte[] file, uint version, string metadataJson, ReadOnlyMemory<byte> model, ReadOnlyMemory<byte> graph,
        IReadOnlyList<ContainerTensorInfo> tensors, IReadOnlyList<PlaneCode[]?> planes, byte[] index)
    {
        this.file = file;
        Version = version;
        MetadataJson = metadataJson;
        this.model = model;
        this.graph = graph;
        Tensors = tensors;
        this.planes = planes;
        this.index = index;
    }

    /// <summary>The format version of the file (1 or 2).</summary>
    public uint Version { get; }

    /// <summary>The metadata object (JSON).</summary>
    public string MetadataJson { get; }

    /// <summary>The tensor table.</summary>
    public IReadOnlyList<ContainerTensorInfo> Tensors { get; }

    /// <summary>The container's size in bytes.</summary>
    public long Length => file.Length;

    /// <summary>True when <paramref name="bytes"/> starts with the container's magic.</summary>
    public static bool HasMagic(ReadOnlySpan<byte> bytes) => bytes.Length >= 8 && bytes[..8].SequenceEqual(ContainerLayout.Magic);

    /// <summary>Reads a whole stream (at most <see cref="ContainerLimits.MaxFileLength"/> bytes, seekable or not) and validates it.</summary>
    public static ModelContainer Read(Stream stream) => Read(ContainerLimits.ReadBounded(stream));

    /// <summary>Validates <paramref name="file"/> (kept, not copied) and returns the container.</summary>
    public static ModelContainer Read(byte[] file)
    {
        long length = file.Length;
        if (length > ContainerLimits.MaxFileLength) throw new ContainerFormatException($"the file has {length} bytes, more than the limit of {ContainerLimits.MaxFileLength}", 0);
        if (!HasMagic(file)) throw new ContainerFormatException("not a .cmodel container (bad magic)", 0);
        if (length < 12) throw new ContainerFormatException($"the file has {length} bytes, less than a header", 0);
        var version = BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(8));
        return version switch
        {
            1 => ContainerV1.Read(file),
            ContainerLayout.Version => ContainerV2.Read(file),
            _ => throw new ContainerFormatException($"container version {version} is not supported (this reader knows versions {ContainerLayout.OldestReadable} to {ContainerLayout.Version})", 8),
        };
    }

    /// <summary>The decoded bytes of tensor <paramref name="index"/>.</summary>
    /// <exception cref="ContainerFormatException">Its stored bytes do not decode (a crafted file with valid checksums).</exception>
    public byte[] DecodeTensor(int index)
    {
        var decoded = new byte[Tensors[index].DecodedLength];
        DecodeInto(index, decoded);
        return decoded;
    }

    void DecodeInto(int i, Span<byte> destination)
    {
        if (Version == 1) ContainerV1.Decode(file, Tensors[i]).CopyTo(destination);
        else ContainerV2.Decode(file, index, Tensors[i], planes[i], destination);
    }

    /// <summary>The model as ONNX bytes, ready for ONNX Runtime: the stored graph with every tensor put back as an initializer.</summary>
    public byte[] ToOnnx() => OnnxTensorEncoder.Assemble(model.Span, graph.Span, Tensors, (i, destination) => DecodeInto(i, destination.Span));
}

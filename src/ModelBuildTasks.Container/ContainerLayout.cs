namespace ModelBuildTasks.Container;

/// <summary>The fixed numbers of the format (docs/format.md).</summary>
static class ContainerLayout
{
    public static ReadOnlySpan<byte> Magic => "MBTMODEL"u8;
    /// <summary>The version this library writes.</summary>
    public const uint Version = 2;
    /// <summary>The oldest version it still reads.</summary>
    public const uint OldestReadable = 1;
    public const int HeaderSizeV1 = 64;
    public const int HeaderSize = 32;
    public const long MaxMetadata = 16L << 20;
    public const long MaxGraph = 256L << 20;
    /// <summary>A version-2 index (metadata, graph, tensor table and inline tensors) decodes to at most this many bytes.</summary>
    public const long MaxIndex = 512L << 20;
    /// <summary>
    /// Tensors a container may hold: CNNs have hundreds to a few thousand (weights, scales, zero points). A tensor can
    /// cost the file half a byte (an empty one, its table entry Brotli-coded), and ONNX Runtime takes time quadratic in
    /// a graph's initializers to load them (100,000 took 30 s): the cap bounds what a small crafted file costs the app.
    /// </summary>
    public const uint MaxTensors = 20_000;
    public const int MaxName = 4096;
    public const int MaxRank = 8;
    public const long MaxDecodedTotal = 2L << 30;

    /// <summary>Bytes per element of an ONNX data type, or 0 if the type is not allowed in a container.</summary>
    public static int ElementSize(int type) => type switch
    {
        1 or 6 or 12 => 4,        // float, int32, uint32
        2 or 3 or 9 => 1,         // uint8, int8, bool
        4 or 5 or 10 or 16 => 2,  // uint16, int16, float16, bfloat16
        7 or 11 or 13 => 8,       // int64, double, uint64
        _ => 0,
    };
}

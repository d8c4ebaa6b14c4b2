using System.Runtime.InteropServices;
using Google.Protobuf;
using ModelBuildTasks.Onnx.Proto;

namespace ModelBuildTasks.Graph;

/// <summary>Turns an ONNX <see cref="ModelProto"/> into the engine's IR.</summary>
public static class OnnxImport
{
    /// <summary>Converts a parsed model. Typed tensor fields, raw data and sparse initializers all become dense tensors.</summary>
    /// <param name="proto">The model, with external data already loaded.</param>
    /// <param name="displayPath">The file name used in error messages.</param>
    public static OnnxModel ToModel(ModelProto proto, string? displayPath = null)
    {
        var model = new OnnxModel
        {
            IrVersion = proto.IrVersion,
            ProducerName = proto.ProducerName,
            ProducerVersion = proto.ProducerVersion,
            Domain = proto.Domain,
            ModelVersion = proto.ModelVersion,
            DocString = proto.DocString,
            Graph = ToGraph(proto.Graph, displayPath),
        };
        model.Opsets.Clear();
        model.Opsets.AddRange(proto.OpsetImport.Select(o => new OpsetImport(o.Domain, o.Version)));
        foreach (var entry in proto.MetadataProps) model.Metadata[entry.Key] = entry.Value;
        return model;
    }

    static ModelGraph ToGraph(GraphProto proto, string? displayPath)
    {
        var graph = new ModelGraph { Name = proto.Name };
        foreach (var t in proto.Initializer) graph.AddInitializer(ToTensor(t, displayPath));
        foreach (var s in proto.SparseInitializer) graph.AddInitializer(Densify(s, displayPath));
        // Before IR 4, initializers also had to be listed as inputs; the IR keeps only real inputs.
        graph.Inputs.AddRange(proto.Input.Where(i => !graph.Initializers.ContainsKey(i.Name)).Select(ToValueInfo));
        graph.Outputs.AddRange(proto.Output.Select(ToValueInfo));
        foreach (var v in proto.ValueInfo) graph.ValueInfos[v.Name] = ToValueInfo(v);
        var index = 0;
        foreach (var n in proto.Node)
        {
            var name = n.Name.Length > 0 ? n.Name : $"{n.OpType}_{index}";
            var node = new Node(name, n.OpType, n.Input, n.Output, n.Domain);
            foreach (var a in n.Attribute) node.Attributes[a.Name] = ToAttribute(a, displayPath);
            graph.Nodes.Add(node);
            index++;
        }
        return graph;
    }

    /// <summary>Converts an ONNX value info; non-tensor types become <see cref="ElementType.Undefined"/> with no shape.</summary>
    public static ValueInfo ToValueInfo(ValueInfoProto v)
    {
        var tensorType = v.Type?.TensorType;
        if (tensorType is null) return new ValueInfo(v.Name, ElementType.Undefined, null);
        var shape = tensorType.Shape is null
            ? null
            : new TensorShape(tensorType.Shape.Dim.Select(d =>
                d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue && d.DimValue >= 0 ? Dim.Of(d.DimValue)
                : d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimParam ? Dim.Named(d.DimParam)
                : Dim.Unknown));
        return new ValueInfo(v.Name, (ElementType)tensorType.ElemType, shape);
    }

    static NodeAttribute ToAttribute(AttributeProto a, string? displayPath) => a.Type switch
    {
        AttributeProto.Types.AttributeType.Int => NodeAttribute.Of(a.I),
        AttributeProto.Types.AttributeType.Float => NodeAttribute.Of(a.F),
        AttributeProto.Types.AttributeType.String => NodeAttribute.Of(a.S.ToStringUtf8()),
        AttributeProto.Types.AttributeType.Ints => NodeAttribute.Of(a.Ints.ToArray()),
        AttributeProto.Types.AttributeType.Floats => NodeAttribute.Of(a.Floats.ToArray()),
        AttributeProto.Types.AttributeType.Strings => new NodeAttribute { Kind = AttributeKind.Strings, Strings = a.Strings.Select(s => s.ToStringUtf8()).ToArray() },
        AttributeProto.Types.AttributeType.Tensor when a.T is not null => NodeAttribute.Of(ToTensor(a.T, displayPath)),
        _ => new NodeAttribute { Kind = AttributeKind.Opaque, OpaqueProto = a.ToByteArray() },
    };

    /// <summary>Converts a dense ONNX tensor (raw data or typed fields) to a <see cref="Tensor"/>.</summary>
    public static Tensor ToTensor(TensorProto t, string? displayPath = null)
    {
        var type = (ElementType)t.DataType;
        var dims = t.Dims.ToArray();
        if (t.Segment is not null) throw Invalid($"tensor '{t.Name}' is segmented, which is not supported", displayPath);
        if (ElementTypes.SizeOf(type) == 0)
            throw Invalid($"tensor '{t.Name}' has element type {ElementTypes.Name(type)}, which is not supported", displayPath);
        if (dims.Any(d => d < 0)) throw Invalid($"tensor '{t.Name}' has a negative dimension", displayPath);
        byte[] data = t.HasRawData ? t.RawData.ToByteArray() : TypedFieldBytes(t, type);
        try
        {
            return new Tensor(t.Name, type, dims, data);
        }
        catch (ArgumentException e)
        {
            throw Invalid(e.Message, displayPath);
        }
    }

    static byte[] TypedFieldBytes(TensorProto t, ElementType type) => type switch
    {
        ElementType.Float => MemoryMarshal.AsBytes(t.FloatData.ToArray().AsSpan()).ToArray(),
        ElementType.Int32 => MemoryMarshal.AsBytes(t.Int32Data.ToArray().AsSpan()).ToArray(),
        ElementType.Int64 => MemoryMarshal.AsBytes(t.Int64Data.ToArray().AsSpan()).ToArray(),
        ElementType.Double => MemoryMarshal.AsBytes(t.DoubleData.ToArray().AsSpan()).ToArray(),
        ElementType.UInt64 => MemoryMarshal.AsBytes(t.Uint64Data.ToArray().AsSpan()).ToArray(),
        ElementType.UInt32 => t.Uint64Data.SelectMany(v => BitConverter.GetBytes((uint)v)).ToArray(),
        ElementType.Int8 or ElementType.UInt8 or ElementType.Bool => t.Int32Data.Select(v => (byte)v).ToArray(),
        ElementType.Int16 or ElementType.UInt16 or ElementType.Float16 or ElementType.BFloat16 =>
            t.Int32Data.SelectMany(v => BitConverter.GetBytes((ushort)v)).ToArray(),
        _ => [],
    };

    static Tensor Densify(SparseTensorProto s, string? displayPath)
    {
        if (s.Values is null || s.Indices is null) throw Invalid("a sparse initializer lacks values or indices", displayPath);
        var values = ToTensor(s.Values, displayPath);
        var indices = ToTensor(s.Indices, displayPath).ToInt64s();
        var dims = s.Dims.ToArray();
        var size = ElementTypes.SizeOf(values.Type);
        if (dims.Any(d => d < 0)) throw Invalid($"sparse initializer '{values.Name}' has a negative dimension", displayPath);
        // Dims are free text in the file: their product is checked as it grows, and the dense tensor may
        // be at most MaxSparseExpansion times what the file stores for it (a few bytes must not claim gigabytes).
        var stored = (long)values.Data.Length + indices.Length * 8L;
        var cap = Math.Min(InputFile.MaxBytes, MaxSparseAllowance + MaxSparseExpansion * stored) / Math.Max(size, 1);
        long count = 1;
        foreach (var d in dims)
        {
            if (d > 0 && count > cap / d) throw Invalid($"sparse initializer '{values.Name}' has dimensions [{string.Join(",", dims)}] beyond the limit for its {stored} stored bytes", displayPath);
            count *= d;
        }
        var nnz = values.ElementCount;
        var dense = new byte[count * size];
        var rank = dims.Length;
        // Indices are either linear [NNZ] or coordinates [NNZ, rank].
        var coordinates = indices.Length == nnz * rank && rank > 1 && indices.Length != nnz;
        if (!coordinates && indices.Length != nnz) throw Invalid($"sparse initializer '{values.Name}' has {indices.Length} indices for {nnz} values", displayPath);
        for (long k = 0; k < nnz; k++)
        {
            long linear;
            if (coordinates)
            {
                linear = 0;
                for (var r = 0; r < rank; r++) linear = linear * dims[r] + indices[k * rank + r];
            }
            else linear = indices[k];
            if (linear < 0 || linear >= count) throw Invalid($"sparse initializer '{values.Name}' has an index out of range", displayPath);
            Array.Copy(values.Data, k * size, dense, linear * size, size);
        }
        return new Tensor(values.Name, values.Type, dims, dense);
    }

    /// <summary>A sparse initializer's dense form is at most this constant plus <see cref="MaxSparseExpansion"/> times its stored bytes.</summary>
    public const long MaxSparseAllowance = 1L << 20;

    /// <summary>See <see cref="MaxSparseAllowance"/>: real sparse weights are rarely sparser than 1 in 100.</summary>
    public const long MaxSparseExpansion = 256;

    static ModelBuildException Invalid(string message, string? displayPath) => new(ErrorCodes.InvalidModel, message, displayPath);
}

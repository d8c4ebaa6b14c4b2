using Google.Protobuf;
using ModelBuildTasks.Onnx.Proto;

namespace ModelBuildTasks.Graph;

/// <summary>Turns the engine's IR back into an ONNX <see cref="ModelProto"/>. Tensors are written as raw data.</summary>
public static class OnnxExport
{
    /// <summary>Converts a model to its protobuf form.</summary>
    public static ModelProto ToProto(OnnxModel model)
    {
        var proto = new ModelProto
        {
            IrVersion = model.IrVersion,
            ProducerName = model.ProducerName,
            ProducerVersion = model.ProducerVersion,
            Domain = model.Domain,
            ModelVersion = model.ModelVersion,
            DocString = model.DocString,
            Graph = ToProto(model.Graph, model.IrVersion),
        };
        proto.OpsetImport.AddRange(model.Opsets.Select(o => new OperatorSetIdProto { Domain = o.Domain, Version = o.Version }));
        proto.MetadataProps.AddRange(model.Metadata.Select(kv => new StringStringEntryProto { Key = kv.Key, Value = kv.Value }));
        return proto;
    }

    /// <summary>Serializes a model to ONNX bytes.</summary>
    public static byte[] ToBytes(OnnxModel model) => ToProto(model).ToByteArray();

    static GraphProto ToProto(ModelGraph graph, long irVersion)
    {
        var proto = new GraphProto { Name = graph.Name };
        proto.Input.AddRange(graph.Inputs.Select(ToProto));
        // IR versions before 4 require every initializer to be declared as a graph input too.
        if (irVersion < 4)
            proto.Input.AddRange(graph.Initializers.Values.Select(t => ToProto(new ValueInfo(t.Name, t.Type, t.Shape))));
        proto.Output.AddRange(graph.Outputs.Select(ToProto));
        proto.ValueInfo.AddRange(graph.ValueInfos.Values.Select(ToProto));
        proto.Initializer.AddRange(graph.Initializers.Values.Select(ToProto));
        foreach (var node in graph.Nodes)
        {
            var n = new NodeProto { Name = node.Name, OpType = node.OpType };
            if (node.Domain.Length > 0) n.Domain = node.Domain;
            n.Input.AddRange(node.Inputs);
            n.Output.AddRange(node.Outputs);
            n.Attribute.AddRange(node.Attributes.Select(kv => ToProto(kv.Key, kv.Value)));
            proto.Node.Add(n);
        }
        return proto;
    }

    /// <summary>Converts a tensor to an ONNX tensor with raw data.</summary>
    public static TensorProto ToProto(Tensor tensor)
    {
        var proto = new TensorProto { Name = tensor.Name, DataType = (int)tensor.Type, RawData = ByteString.CopyFrom(tensor.Data) };
        proto.Dims.AddRange(tensor.Dims);
        return proto;
    }

    static ValueInfoProto ToProto(ValueInfo value)
    {
        var tensorType = new TypeProto.Types.Tensor { ElemType = (int)value.Type };
        if (value.Shape is not null)
        {
            var shape = new TensorShapeProto();
            foreach (var d in value.Shape.Dims)
            {
                var dim = new TensorShapeProto.Types.Dimension();
                if (d.IsKnown) dim.DimValue = d.Value;
                else if (d.Symbol is not null) dim.DimParam = d.Symbol;
                shape.Dim.Add(dim);
            }
            tensorType.Shape = shape;
        }
        return new ValueInfoProto { Name = value.Name, Type = new TypeProto { TensorType = tensorType } };
    }

    static AttributeProto ToProto(string name, NodeAttribute a)
    {
        if (a.Kind == AttributeKind.Opaque) return AttributeProto.Parser.ParseFrom(a.OpaqueProto);
        var proto = new AttributeProto { Name = name };
        switch (a.Kind)
        {
            case AttributeKind.Int: proto.Type = AttributeProto.Types.AttributeType.Int; proto.I = a.Int; break;
            case AttributeKind.Float: proto.Type = AttributeProto.Types.AttributeType.Float; proto.F = a.Float; break;
            case AttributeKind.String: proto.Type = AttributeProto.Types.AttributeType.String; proto.S = ByteString.CopyFromUtf8(a.String); break;
            case AttributeKind.Ints: proto.Type = AttributeProto.Types.AttributeType.Ints; proto.Ints.AddRange(a.Ints); break;
            case AttributeKind.Floats: proto.Type = AttributeProto.Types.AttributeType.Floats; proto.Floats.AddRange(a.Floats); break;
            case AttributeKind.Strings: proto.Type = AttributeProto.Types.AttributeType.Strings; proto.Strings.AddRange(a.Strings.Select(ByteString.CopyFromUtf8)); break;
            case AttributeKind.Tensor: proto.Type = AttributeProto.Types.AttributeType.Tensor; proto.T = ToProto(a.Tensor!); break;
        }
        return proto;
    }
}

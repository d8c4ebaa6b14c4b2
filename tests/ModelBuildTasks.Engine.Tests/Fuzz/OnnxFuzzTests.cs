using Google.Protobuf;
using ModelBuildTasks.Graph;
using ModelBuildTasks.Inspection;
using ModelBuildTasks.Onnx;
using ModelBuildTasks.Onnx.Proto;
using Xunit.Abstractions;

namespace ModelBuildTasks.Engine.Tests.Fuzz;

/// <summary>Mutated ONNX models are summarised (what inspect does) or rejected with a coded error.</summary>
[Collection(nameof(FuzzCollection))]
public class OnnxFuzzTests(ITestOutputHelper output)
{
    static readonly byte[][] Bases = [OnnxExport.ToBytes(TestModels.Plain()), OnnxExport.ToBytes(TestModels.Residual()), OnnxExport.ToBytes(TestModels.Dense())];
    static readonly string[] IntAttributes = ["strides", "pads", "dilations", "kernel_shape", "group", "axis", "perm", "allowzero", "ceil_mode", "transA"];

    static byte[] Case(Mutator m)
    {
        var bytes = Bases[m.Random.Next(Bases.Length)];
        if (m.Random.Next(3) == 0) return m.Mutate(bytes);
        // Structure-aware: a well-formed protobuf with crafted values where the engine computes with them.
        var model = ModelProto.Parser.ParseFrom(bytes);
        var graph = model.Graph;
        long Value() => m.Random.Next(3) == 0 ? (long)m.InterestingValue() : m.Random.Next(-2, 4);
        for (var r = 0; r < 1 + m.Random.Next(3); r++)
        {
            var node = graph.Node[m.Random.Next(graph.Node.Count)];
            switch (m.Random.Next(7))
            {
                case 0:
                    var name = IntAttributes[m.Random.Next(IntAttributes.Length)];
                    if (node.Attribute.FirstOrDefault(a => a.Name == name) is { } existing) node.Attribute.Remove(existing);
                    var attribute = new AttributeProto { Name = name };
                    if (m.Random.Next(2) == 0) { attribute.Type = AttributeProto.Types.AttributeType.Int; attribute.I = Value(); }
                    else { attribute.Type = AttributeProto.Types.AttributeType.Ints; for (var k = 0; k < m.Random.Next(5); k++) attribute.Ints.Add(Value()); }
                    node.Attribute.Add(attribute);
                    break;
                case 1:
                    var tensor = graph.Initializer[m.Random.Next(graph.Initializer.Count)];
                    for (var d = 0; d < tensor.Dims.Count; d++) if (m.Random.Next(2) == 0) tensor.Dims[d] = Value();
                    if (m.Random.Next(4) == 0) tensor.DataType = m.Random.Next(20);
                    break;
                case 2: // a dangling input
                    if (node.Input.Count > 0) node.Input[m.Random.Next(node.Input.Count)] = "nowhere";
                    break;
                case 3: // a cycle: the first node reads the last node's output
                    graph.Node[0].Input.Add(graph.Node[^1].Output[0]);
                    break;
                case 4: // shuffled nodes
                    var nodes = graph.Node.OrderBy(_ => m.Random.Next()).ToList();
                    graph.Node.Clear();
                    graph.Node.AddRange(nodes);
                    break;
                case 5: // a sparse initializer with crafted dims and indices
                    var sparse = new SparseTensorProto
                    {
                        Values = new TensorProto { Name = "sparse" + r, DataType = 1, Dims = { 2 }, RawData = ByteString.CopyFrom(new byte[8]) },
                        Indices = new TensorProto { Name = "i", DataType = 7, Dims = { 2 }, RawData = ByteString.CopyFrom(BitConverter.GetBytes(Value()).Concat(BitConverter.GetBytes(Value())).ToArray()) },
                    };
                    for (var d = 0; d < 1 + m.Random.Next(4); d++) sparse.Dims.Add(Value());
                    graph.SparseInitializer.Add(sparse);
                    break;
                default: // the input's declared shape
                    var dims = graph.Input[0].Type.TensorType.Shape.Dim;
                    if (dims.Count > 0) dims[m.Random.Next(dims.Count)].DimValue = Value();
                    break;
            }
        }
        return model.ToByteArray();
    }

    [Fact]
    public void MutatedModels_AreSummarisedOrRejectedWithACode()
    {
        FuzzHarness.Run(output, "onnx", m =>
        {
            var bytes = Case(m);
            var model = OnnxImport.ToModel(OnnxModelFile.Parse(bytes, "fuzz.onnx"), "fuzz.onnx");
            GraphValidation.Check(model.Graph, "fuzz.onnx");
            return ModelSummary.Of(model, bytes.Length).Parameters;
        }, typeof(ModelBuildException));
    }
}

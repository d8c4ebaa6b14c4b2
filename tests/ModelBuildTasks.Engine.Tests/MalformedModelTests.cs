using Google.Protobuf;
using ModelBuildTasks.Graph;
using ModelBuildTasks.Inspection;
using ModelBuildTasks.Onnx;
using ModelBuildTasks.Onnx.Proto;

namespace ModelBuildTasks.Engine.Tests;

/// <summary>Defects 8 and 10 of issue #12 for models: crafted attributes and dims are coded errors, and inspect validates and counts honestly.</summary>
public class MalformedModelTests
{
    static ModelProto Proto() => OnnxExport.ToProto(TestModels.Plain());

    static ModelBuildException Summarise(ModelProto proto)
    {
        var bytes = proto.ToByteArray();
        return Assert.Throws<ModelBuildException>(() => ModelSummary.Of(Check(OnnxImport.ToModel(OnnxModelFile.Parse(bytes, "m.onnx"), "m.onnx")), bytes.Length));
    }

    static OnnxModel Check(OnnxModel model)
    {
        GraphValidation.Check(model.Graph, "m.onnx");
        return model;
    }

    [Fact]
    public void AConvWithStrideZero_IsAGraphError_NotADivideByZero()
    {
        var proto = Proto();
        var conv = proto.Graph.Node.First(n => n.OpType == "Conv");
        conv.Attribute.Add(new AttributeProto { Name = "strides", Type = AttributeProto.Types.AttributeType.Ints, Ints = { 0, 0 } });
        Assert.Equal(ErrorCodes.InvalidGraph, Summarise(proto).Code);
    }

    [Fact]
    public void ASparseInitializerWhoseDimsOverflow_IsAModelError()
    {
        var proto = Proto();
        proto.Graph.SparseInitializer.Add(new SparseTensorProto
        {
            Values = new TensorProto { Name = "s", DataType = 1, Dims = { 1 }, RawData = ByteString.CopyFrom(new byte[4]) },
            Indices = new TensorProto { Name = "i", DataType = 7, Dims = { 1 }, RawData = ByteString.CopyFrom(new byte[8]) },
            Dims = { 1L << 40, 1L << 40 },
        });
        Assert.Equal(ErrorCodes.InvalidModel, Summarise(proto).Code);
    }

    [Fact]
    public void ATensorWhoseDimsOverflowToZeroBytes_IsAModelError_NotAZeroSizedTensor()
    {
        var proto = Proto();
        proto.Graph.Initializer.Add(new TensorProto { Name = "huge", DataType = 1, Dims = { 1L << 40, 1L << 40 }, RawData = ByteString.Empty });
        Assert.Equal(ErrorCodes.InvalidModel, Summarise(proto).Code);
    }

    [Fact]
    public void CyclesAndDanglingInputs_AreGraphErrors_InInspect()
    {
        var cyclic = Proto();
        cyclic.Graph.Node[0].Input.Add(cyclic.Graph.Node[^1].Output[0]);
        Assert.Contains("cycle", Summarise(cyclic).Message);
        var dangling = Proto();
        dangling.Graph.Node[1].Input[0] = "nowhere";
        Assert.Contains("dangling", Summarise(dangling).Message);
    }

    [Fact]
    public void AQuantizedModelsParameters_CountItsInt8Weights()
    {
        var calibration = ModelBuildTasks.Data.DatasetLoader.Load(TestPaths.FashionTrain, limit: 32);
        var model = TestModels.Plain();
        var quantized = ModelBuildTasks.Passes.Quantization.QdqQuantizer.Quantize(model, calibration).Model;
        var convWeights = model.Graph.Nodes.Where(n => n.OpType == "Conv").Sum(n => model.Graph.Initializers[n.Inputs[1]].ElementCount);
        Assert.True(ModelSummary.Of(quantized, 0).Parameters >= convWeights);
    }
}

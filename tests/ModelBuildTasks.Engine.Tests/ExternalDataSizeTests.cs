using Google.Protobuf;
using ModelBuildTasks.Compression;
using ModelBuildTasks.Graph;
using ModelBuildTasks.Onnx.Proto;

namespace ModelBuildTasks.Engine.Tests;

public class ExternalDataSizeTests
{
    [Fact]
    public void AModelWithItsWeightsInASidecar_IsAsLargeAsBothFiles()
    {
        // Its 3.8 KB .onnx was reported as the original, and the compressed model as 2.3x LARGER.
        using var temp = new TestPaths.TempFolder();
        var proto = OnnxExport.ToProto(TestModels.Plain());
        using (var sidecar = File.Create(temp.File("m.onnx.data")))
            foreach (var tensor in proto.Graph.Initializer.Where(t => t.RawData.Length > 256))
            {
                tensor.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = "m.onnx.data" });
                tensor.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = sidecar.Position.ToString() });
                tensor.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = tensor.RawData.Length.ToString() });
                tensor.DataLocation = TensorProto.Types.DataLocation.External;
                sidecar.Write(tensor.RawData.Span);
                tensor.RawData = ByteString.Empty;
            }
        File.WriteAllBytes(temp.File("m.onnx"), proto.ToByteArray());

        var inputs = CompressionInputs.Load(temp.File("m.onnx"), TestPaths.FashionValidation, null, new CompressionSettings { MaxValidationImages = 16 });

        Assert.Equal(new FileInfo(temp.File("m.onnx")).Length + new FileInfo(temp.File("m.onnx.data")).Length, inputs.SourceLength);
        Assert.True(new FileInfo(temp.File("m.onnx.data")).Length > new FileInfo(temp.File("m.onnx")).Length);
    }
}

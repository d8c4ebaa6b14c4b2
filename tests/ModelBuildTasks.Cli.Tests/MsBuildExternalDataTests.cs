using Google.Protobuf;
using ModelBuildTasks.Graph;
using ModelBuildTasks.Onnx.Proto;

namespace ModelBuildTasks.Cli.Tests;

/// <summary>A model whose weights are in an ONNX external-data file beside it, through the build.</summary>
public class MsBuildExternalDataTests
{
    // The model's largest weight moved to m.onnx.data: the .onnx file stays the same whatever the sidecar holds.
    static byte[] SaveWithSidecar(string folder)
    {
        var proto = OnnxExport.ToProto(TestModels.Plain());
        var tensor = proto.Graph.Initializer.OrderByDescending(t => t.RawData.Length).First();
        var weights = tensor.RawData.ToByteArray();
        File.WriteAllBytes(Path.Combine(folder, "m.onnx.data"), weights);
        tensor.DataLocation = TensorProto.Types.DataLocation.External;
        tensor.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = "m.onnx.data" });
        tensor.RawData = ByteString.Empty;
        File.WriteAllBytes(Path.Combine(folder, "m.onnx"), proto.ToByteArray());
        return weights;
    }

    [Fact]
    public void ChangingOnlyTheSidecar_CompressesAgain_InsteadOfShippingTheOldModel()
    {
        using var temp = new TestPaths.TempFolder();
        var weights = SaveWithSidecar(temp.Path);
        var item = $"""<CompressModel Include="m.onnx" ValidationData="{TestPaths.FashionTest}" Methods="iq" Bits="7" MaxValidationImages="100" Metric="agreement" />""";
        var container = temp.File("out/m/m.cmodel");

        Assert.Equal(0, MsBuildTask.Build(temp.Path, item).ExitCode);
        // What the IDE's up-to-date check and dotnet watch follow besides the model (CompressModel_IdeItems).
        Assert.Equal([temp.File("m.onnx.data")], File.ReadAllLines(temp.File("out/m/external-data.txt")));
        var first = File.ReadAllBytes(container);
        var onnx = File.ReadAllBytes(temp.File("m.onnx"));
        // Other weights, the same .onnx file: every float halved.
        var halved = new byte[weights.Length];
        for (var i = 0; i < weights.Length; i += 4)
            BitConverter.TryWriteBytes(halved.AsSpan(i), BitConverter.ToSingle(weights, i) / 2);
        File.WriteAllBytes(temp.File("m.onnx.data"), halved);

        var (exitCode, output) = MsBuildTask.Build(temp.Path, item);
        Assert.True(exitCode == 0, output);
        Assert.Equal(onnx, File.ReadAllBytes(temp.File("m.onnx")));
        Assert.NotEqual(first, File.ReadAllBytes(container));
    }

    [Fact]
    public void EmbeddingItUncompressed_IsACodedError_NotAnAppThatCannotLoadItsModel()
    {
        using var temp = new TestPaths.TempFolder();
        SaveWithSidecar(temp.Path);
        var (exitCode, output) = MsBuildTask.BuildWrappers(temp.Path, $"""<CompressModel Include="m.onnx" ValidationData="{TestPaths.FashionTest}" />""", embedsModel: true);
        Assert.NotEqual(0, exitCode);
        Assert.Matches(@"m\.onnx : error MBT1003: the model keeps its weights in m\.onnx\.data \(ONNX external data\)", output);
    }
}

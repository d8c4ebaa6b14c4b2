using System.Runtime.InteropServices;
using Google.Protobuf;
using ModelBuildTasks.Graph;
using ModelBuildTasks.Onnx;
using ModelBuildTasks.Onnx.Proto;

namespace ModelBuildTasks.Engine.Tests;

/// <summary>
/// <see cref="OnnxSignature"/>: the one reading of a model file's external-data files and Softmax ending,
/// linked into the MSBuild task and used by the engine. The task and the engine had a scanner each,
/// and they disagreed about the models below.
/// </summary>
public class OnnxSignatureTests
{
    // The task's class for a model the engine converts takes what the engine's would: the two rules must agree.
    [Theory]
    [InlineData(ElementType.Float, "", true)]
    [InlineData(ElementType.Float16, "", true)] // made a Cast to float (Float16ToFloat)
    [InlineData(ElementType.Int32, "", false)] // a Cast to integers is not pixels cast to float: not converted, refused as Cast
    [InlineData(ElementType.Float, "transposed, then cast", true)] // N x H x W x C, as tf2onnx writes it
    [InlineData(ElementType.Float, "cast, then transposed", true)]
    public void AUint8InputCastToFloat_IsAPixelInput_ExactlyWhenTheEngineConvertsIt(ElementType castTo, string channelsLast, bool converted)
    {
        using var temp = new TestPaths.TempFolder();
        var model = ExportForms.Pixels().Exported;
        var graph = model.Graph;
        var cast = graph.Nodes.Single(n => n.OpType == "Cast");
        cast.Attributes["to"] = NodeAttribute.Of((long)castTo);
        if (channelsLast.Length > 0)
        {
            graph.Inputs[0] = graph.Inputs[0] with { Shape = new TensorShape([Dim.Named("N"), Dim.Of(28), Dim.Of(28), Dim.Of(1)]) };
            var first = channelsLast.StartsWith("transposed", StringComparison.Ordinal);
            var (from, to) = first ? (cast.Inputs[0], "transposed") : (cast.Outputs[0], "transposed");
            foreach (var node in graph.Nodes) for (var i = 0; i < node.Inputs.Count; i++) if (node.Inputs[i] == from) node.Inputs[i] = to;
            graph.Nodes.Insert(first ? 0 : 1, new Node("nhwc", "Transpose", [from], [to]).With("perm", NodeAttribute.Of(0L, 3L, 1L, 2L)));
        }
        ModelFile.Save(model, temp.File("m.onnx"));

        var signature = OnnxSignature.Read(temp.File("m.onnx"));
        var loaded = ModelFile.Load(temp.File("m.onnx"));

        Assert.Equal(converted, signature.PixelInput);
        Assert.Equal(converted, loaded.Metadata.ContainsKey(Passes.PixelInput.MetadataKey));
        Assert.Equal(channelsLast.Length > 0, signature.ChannelsLastInput);
        Assert.Equal(channelsLast.Length > 0, loaded.Metadata.ContainsKey(Passes.ChannelsFirstInput.MetadataKey));
        if (converted) Assert.Equal("[N,1,28,28]", loaded.Graph.Inputs[0].Shape!.ToString());
    }

    [Fact]
    public void ExternalDataFiles_AreTheFilesTheEngineLoads_EachOnce_InAttributesToo()
    {
        using var temp = new TestPaths.TempFolder();
        Directory.CreateDirectory(temp.File("weights"));
        var proto = OnnxExport.ToProto(TestModels.Plain());
        var initializers = proto.Graph.Initializer.OrderByDescending(t => t.RawData.Length).ToList();
        MoveOut(initializers[0], temp.Path, "weights/a.bin");
        MoveOut(initializers[1], temp.Path, "weights/a.bin"); // a second tensor in the same file (offset 0 again: only the listing matters)
        // A Constant node's tensor (nothing reads it) is loaded from its file like any initializer.
        var constant = new TensorProto { Name = "c", DataType = 1, RawData = ByteString.CopyFrom(new byte[16]) };
        constant.Dims.Add(4);
        MoveOut(constant, temp.Path, "b.bin");
        var node = new NodeProto { OpType = "Constant", Name = "unused_constant" };
        node.Output.Add("unused");
        node.Attribute.Add(new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = constant });
        proto.Graph.Node.Add(node);
        // A location on a tensor whose data is inside (data_location DEFAULT): ONNX ignores it, and so must a listing.
        initializers[2].ExternalData.Add(new StringStringEntryProto { Key = "location", Value = "ignored.bin" });
        File.WriteAllBytes(temp.File("m.onnx"), proto.ToByteArray());

        var files = OnnxSignature.Read(temp.File("m.onnx")).ExternalDataFiles;

        Assert.Equal([temp.File("b.bin"), temp.File("weights/a.bin")], files.Order(StringComparer.Ordinal)); // each once
        // The engine loads the model from exactly these files (ignored.bin does not exist).
        var loaded = OnnxModelFile.Load(temp.File("m.onnx"));
        Assert.All(ExternalData.AllTensors(loaded.Graph), t => Assert.NotEqual(TensorProto.Types.DataLocation.External, t.DataLocation));
        Assert.Equal(new byte[16], loaded.Graph.Node.Single(n => n.OpType == "Constant").Attribute[0].T.RawData.ToByteArray());
    }

    [Fact]
    public void ExternalDataFiles_OfAModelWithItsWeightsInside_AreNone()
    {
        using var temp = new TestPaths.TempFolder();
        ModelFile.Save(TestModels.Plain(), temp.File("m.onnx"));
        Assert.Empty(OnnxSignature.Read(temp.File("m.onnx")).ExternalDataFiles);
    }

    public static TheoryData<string> Models() => [.. ZooModels.Members.Keys, "plain", "float16_softmax", "sigmoid"];

    [Theory]
    [MemberData(nameof(Models))]
    public void EndsInProbabilities_OfTheFile_IsWhatTheEngineSeesInTheImportedModel(string name)
    {
        using var temp = new TestPaths.TempFolder();
        var model = name switch
        {
            "plain" => TestModels.Plain(),
            "float16_softmax" => Float16WithSoftmax(),
            "sigmoid" => TestModels.EndingInSigmoid(),
            _ => ZooModels.Members[name](),
        };
        ModelFile.Save(model, temp.File("m.onnx"));

        var fromFile = OnnxSignature.Read(temp.File("m.onnx")).EndsInProbabilities;
        var imported = ModelFile.Load(temp.File("m.onnx")).Graph.EndsInProbabilities();

        Assert.Equal(imported, fromFile);
        // Not agreement on "no" alone: the models that end in a Softmax or a Sigmoid say so.
        Assert.Equal(name is "tf_nhwc_convnet" or "float16_softmax" or "sigmoid", fromFile);
    }

    // Moves a tensor's bytes to the end of FILE (relative to the model's folder) as ONNX external data.
    static void MoveOut(TensorProto tensor, string folder, string file)
    {
        var path = Path.Combine(folder, file);
        var offset = File.Exists(path) ? new FileInfo(path).Length : 0;
        using (var stream = new FileStream(path, FileMode.Append)) stream.Write(tensor.RawData.Span);
        tensor.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = file });
        tensor.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset.ToString() });
        tensor.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = tensor.RawData.Length.ToString() });
        tensor.DataLocation = TensorProto.Types.DataLocation.External;
        tensor.RawData = ByteString.Empty;
    }

    // The test model computed in float16 as onnxconverter-common writes it (keeping float inputs and outputs),
    // ending in a Softmax: its output is the Cast of the Softmax's back to float, which the import turns into an Identity.
    static OnnxModel Float16WithSoftmax() => Float16Tests.Half(keepIoTypes: true, softmax: true);
}

using Google.Protobuf;
using ModelBuildTasks.Graph;
using ModelBuildTasks.Onnx;
using ModelBuildTasks.Onnx.Proto;

namespace ModelBuildTasks.Engine.Tests;

public class OnnxRoundTripTests
{
    [Fact]
    public void ThirdPartyResNet18_RoundTripsByteForByte()
    {
        var original = File.ReadAllBytes(TestPaths.ResNet18);
        var written = OnnxModelFile.ToBytes(OnnxModelFile.Parse(original));
        Assert.Equal(original.Length, written.Length);
        Assert.True(original.AsSpan().SequenceEqual(written), "a read + write of ResNet18.onnx changed its bytes");
    }

    [Fact]
    public void ThirdPartyResNet18_ThroughTheIr_GivesIdenticalOutputs()
    {
        var model = ModelFile.Load(TestPaths.ResNet18);
        Assert.Equal(22, model.Graph.Nodes.Count(n => n.OpType == "Conv"));
        var rewritten = OnnxExport.ToBytes(model);
        var input = TestModels.RandomInput(7, 1, 3, 224, 224);
        var expected = Ort.Run(File.ReadAllBytes(TestPaths.ResNet18), input, [1, 3, 224, 224]);
        var actual = Ort.Run(rewritten, input, [1, 3, 224, 224]);
        foreach (var (name, values) in expected) Assert.Equal(values, actual[name]);
    }

    public static TheoryData<string> Families => ["plain", "residual", "dense"];

    static OnnxModel Family(string name) => name switch
    {
        "plain" => TestModels.Plain(),
        "residual" => TestModels.Residual(),
        _ => TestModels.Dense(),
    };

    [Theory, MemberData(nameof(Families))]
    public void BuiltModels_SaveAndLoad_GiveIdenticalOutputsAndBytes(string family)
    {
        using var temp = new TestPaths.TempFolder();
        var model = Family(family);
        var path = temp.File("model.onnx");
        ModelFile.Save(model, path);
        var first = File.ReadAllBytes(path);
        var reloaded = ModelFile.Load(path);
        var second = OnnxExport.ToBytes(reloaded);
        Assert.True(first.AsSpan().SequenceEqual(second), "IR -> ONNX -> IR -> ONNX is not stable");

        var input = TestModels.RandomInput(1, 4, 1, 28, 28);
        Assert.Equal(Ort.Run(first, input, [4, 1, 28, 28])["logits"], Ort.Run(second, input, [4, 1, 28, 28])["logits"]);
    }

    [Fact]
    public void TypedTensorFields_LoadLikeRawData()
    {
        var proto = OnnxExport.ToProto(TestModels.Plain());
        var reference = OnnxExport.ToBytes(TestModels.Plain());
        foreach (var t in proto.Graph.Initializer)
        {
            var values = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(t.RawData.Span).ToArray();
            t.ClearRawData();
            t.FloatData.AddRange(values);
        }
        var typed = OnnxImport.ToModel(proto);
        Assert.True(OnnxExport.ToBytes(typed).AsSpan().SequenceEqual(reference));
    }

    [Fact]
    public void UnknownFields_SurviveARoundTrip()
    {
        var bytes = OnnxModelFile.ToBytes(OnnxExport.ToProto(TestModels.Plain()));
        // Field 25 of ModelProto (functions) is not in our schema: append one as a length-delimited field.
        var extra = new MemoryStream();
        var output = new CodedOutputStream(extra);
        output.WriteTag(25, WireFormat.WireType.LengthDelimited);
        output.WriteBytes(ByteString.CopyFromUtf8("a function we do not model"));
        output.Flush();
        var withUnknown = bytes.Concat(extra.ToArray()).ToArray();

        var rewritten = OnnxModelFile.ToBytes(OnnxModelFile.Parse(withUnknown));
        Assert.True(withUnknown.AsSpan().SequenceEqual(rewritten));
    }

    [Fact]
    public void ExternalData_IsLoadedFromBesideTheModel()
    {
        using var temp = new TestPaths.TempFolder();
        var model = TestModels.Plain();
        var proto = OnnxExport.ToProto(model);
        var weights = proto.Graph.Initializer.First(t => t.Dims.Count == 4);
        var data = weights.RawData.ToByteArray();
        File.WriteAllBytes(temp.File("weights.bin"), new byte[16].Concat(data).ToArray());
        MakeExternal(weights, "weights.bin", offset: 16, length: data.Length);
        OnnxModelFile.Save(proto, temp.File("model.onnx"));

        var loaded = ModelFile.Load(temp.File("model.onnx"));
        Assert.Equal(data, loaded.Graph.Initializers[weights.Name].Data);
    }

    [Theory]
    [InlineData("../outside.bin", "outside the model's folder")]
    [InlineData("/etc/passwd", "absolute")]
    [InlineData("missing.bin", "does not exist")]
    [InlineData("short.bin", "has only")]
    public void ExternalData_BadLocations_AreRejected(string location, string expected)
    {
        using var temp = new TestPaths.TempFolder();
        Directory.CreateDirectory(temp.File("model"));
        File.WriteAllBytes(temp.File("outside.bin"), new byte[1 << 16]);
        File.WriteAllBytes(temp.File("model/short.bin"), new byte[8]);
        var proto = OnnxExport.ToProto(TestModels.Plain());
        var weights = proto.Graph.Initializer.First(t => t.Dims.Count == 4);
        MakeExternal(weights, location, offset: 0, length: weights.RawData.Length);
        OnnxModelFile.Save(proto, temp.File("model/model.onnx"));

        var error = Assert.Throws<ModelBuildException>(() => OnnxModelFile.Load(temp.File("model/model.onnx")));
        Assert.Equal(ErrorCodes.InvalidExternalData, error.Code);
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void DamagedFiles_GiveInvalidModelErrors()
    {
        using var temp = new TestPaths.TempFolder();
        var good = OnnxExport.ToBytes(TestModels.Plain());
        File.WriteAllBytes(temp.File("truncated.onnx"), good[..(good.Length / 2)]);
        File.WriteAllBytes(temp.File("random.onnx"), Enumerable.Range(0, 4096).Select(i => (byte)(i * 7919 % 251)).ToArray());
        File.WriteAllBytes(temp.File("empty.onnx"), []);
        foreach (var name in new[] { "truncated.onnx", "random.onnx", "empty.onnx" })
        {
            var error = Assert.Throws<ModelBuildException>(() => ModelFile.Load(temp.File(name)));
            Assert.Equal(ErrorCodes.InvalidModel, error.Code);
            Assert.Equal(temp.File(name), error.File);
        }
        Assert.Equal(ErrorCodes.ModelNotFound, Assert.Throws<ModelBuildException>(() => ModelFile.Load(temp.File("none.onnx"))).Code);
    }

    static void MakeExternal(TensorProto tensor, string location, long offset, long length)
    {
        tensor.ClearRawData();
        tensor.DataLocation = TensorProto.Types.DataLocation.External;
        tensor.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = location });
        tensor.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset.ToString() });
        tensor.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = length.ToString() });
    }
}

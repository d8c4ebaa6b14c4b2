using ModelBuildTasks.Compression;
using ModelBuildTasks.Data;
using ModelBuildTasks.Evaluation;
using ModelBuildTasks.Graph;
using ModelBuildTasks.Passes;

namespace ModelBuildTasks.Engine.Tests;

/// <summary>TensorFlow models (N x H x W x C input, transposed first) load as N x C x H x W models that compute the same.</summary>
public class ChannelsFirstInputTests
{
    static readonly string Validation = TestPaths.FashionValidation;

    // Three channels: with one, H x W x C and C x H x W are the same bytes and a wrong order would go unseen.
    // Without transposeFirst the input is scaled (a Mul) before its Transpose, as a Keras Rescaling layer exports.
    static OnnxModel TensorFlowStyle(bool transposeFirst)
    {
        var b = new GraphBuilder("tf", seed: 7);
        var x = b.InputChannelsLast("image", 12, 10, 3);
        if (!transposeFirst)
        {
            b.Graph.Nodes.Clear(); // keep the input, drop the Transpose that came with it
            var scaled = b.Add("Mul", ["image", b.Constant("scale", [], 2f)]);
            x = b.Add("Transpose", [scaled], ("perm", NodeAttribute.Of([0L, 3L, 1L, 2L])));
        }
        var features = b.Flatten(b.GlobalAveragePool(b.Relu(b.Conv(x, 8))));
        b.Output(b.Linear(features, 10), "logits");
        return b.Build();
    }

    [Fact]
    public void AnInputTransposedFirst_LoadsAsChannelsFirst_AndComputesTheSame()
    {
        using var temp = new TestPaths.TempFolder();
        var original = TensorFlowStyle(transposeFirst: true);
        ModelFile.Save(original, temp.File("tf.onnx"));

        var loaded = ModelFile.Load(temp.File("tf.onnx"));

        Assert.Equal("[N,3,12,10]", loaded.Graph.Inputs[0].Shape!.ToString());
        Assert.DoesNotContain(loaded.Graph.Nodes, n => n.OpType == "Transpose");
        Assert.Equal("NHWC", loaded.Metadata[ChannelsFirstInput.MetadataKey]);
        var hwc = TestModels.RandomInput(5, 2, 12, 10, 3);
        var chw = new float[hwc.Length];
        for (var n = 0; n < 2; n++)
        for (var y = 0; y < 12; y++)
        for (var x = 0; x < 10; x++)
        for (var c = 0; c < 3; c++)
            chw[((n * 3 + c) * 12 + y) * 10 + x] = hwc[((n * 12 + y) * 10 + x) * 3 + c];
        var expected = Ort.Run(OnnxExport.ToBytes(original), hwc, [2, 12, 10, 3])["logits"];
        var actual = Ort.Run(OnnxExport.ToBytes(loaded), chw, [2, 3, 12, 10])["logits"];
        Assert.True(Ort.MaxDifference(expected, actual) < 1e-5f, $"max difference {Ort.MaxDifference(expected, actual)}");
    }

    [Fact]
    public void AnInputOtherOperationsRead_StaysAsItIs_AndTheShapeErrorSaysWhy()
    {
        var model = TensorFlowStyle(transposeFirst: false);

        Assert.False(ChannelsFirstInput.Apply(model));
        Assert.Equal("[N,12,10,3]", model.Graph.Inputs[0].Shape!.ToString());
        using var runner = new ModelRunner(OnnxExport.ToBytes(model));
        var data = DatasetLoader.Load(Validation, PreprocessSpec.Parse("resize=12x10;channels=3"), limit: 4);
        var error = Assert.Throws<ModelBuildException>(() => runner.CheckCompatible(data));
        Assert.Equal(ErrorCodes.InputShapeMismatch, error.Code);
        Assert.Contains("first operation transposes it", error.Message);
    }

    [Fact]
    public void CompressingATensorFlowModel_WarnsThatTheShippedModelTakesChannelsFirst()
    {
        using var temp = new TestPaths.TempFolder();
        var b = new GraphBuilder("tf", seed: 3);
        var x = b.InputChannelsLast("image", 28, 28, 1);
        b.Output(b.Linear(b.Flatten(b.GlobalAveragePool(b.Relu(b.Conv(x, 8)))), 10), "logits");
        ModelFile.Save(b.Build(), temp.File("tf.onnx"));

        var result = Compressor.Run(temp.File("tf.onnx"), Validation, null, new CompressionSettings { Methods = ["iq"], MaxValidationImages = 200, MaxAccuracyDrop = 100 });

        Assert.Contains(result.Report.Warnings, w => w.Code == ErrorCodes.InputLayoutConverted);
        var shipped = Packaging.ContainerPackaging.ToOnnx(result.Container);
        using var runner = new ModelRunner(shipped);
        Assert.Equal([-1, 1, 28, 28], runner.InputDims);
    }
}

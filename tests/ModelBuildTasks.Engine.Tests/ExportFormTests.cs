using Microsoft.ML.OnnxRuntime;
using ModelBuildTasks.Compression;
using ModelBuildTasks.Graph;

namespace ModelBuildTasks.Engine.Tests;

/// <summary>
/// What exporters write that loading makes canonical (<see cref="ExportForms"/>): the loaded model computes what the
/// exported file does, to the bit, and the engine compresses it.
/// </summary>
public class ExportFormTests
{
    static readonly long[] Batch3 = [3, 1, 28, 28];

    static float[] Images(int count) => [.. Enumerable.Range(0, count * 784).Select(i => (i * 37 % 256) / 255f)];

    static OnnxModel Loaded(OnnxModel exported) => ModelFile.Load(OnnxExport.ToBytes(exported), "exported.onnx");

    [Theory]
    [InlineData(11)] // the Unsqueeze's axes an attribute
    [InlineData(13)] // an input
    public void ANormalisationAndTorchsView_LoadAsAnAddAndAConstantReshape_ComputingTheSameToTheBit(long opset)
    {
        var exported = ExportForms.AsExported(ExportForms.NormalisedWithView(opset: opset));
        Assert.Contains(exported.Graph.Nodes, n => n.OpType == "Sub");
        Assert.Contains(exported.Graph.Nodes, n => n.OpType == "Shape");

        var loaded = Loaded(exported);

        Assert.DoesNotContain(loaded.Graph.Nodes, n => n.OpType is "Sub" or "Shape" or "Gather" or "Unsqueeze" or "Concat" or "Constant");
        var reshape = loaded.Graph.Nodes.Single(n => n.OpType == "Reshape");
        Assert.Equal([0, -1], loaded.Graph.FindInitializer(reshape.Inputs[1])!.ToInt64s());
        Assert.Equal(-0.2860f, loaded.Graph.FindInitializer(loaded.Graph.Nodes.Single(n => n.OpType == "Add").Inputs[1])!.Floats[0]);
        foreach (var count in new[] { 1, 3 })
        {
            long[] shape = [count, 1, 28, 28];
            var images = Images(count);
            Assert.Equal(Ort.Run(OnnxExport.ToBytes(exported), images, shape)["logits"], Ort.Run(OnnxExport.ToBytes(loaded), images, shape)["logits"]);
        }
    }

    [Theory]
    [InlineData(11)]
    [InlineData(13)]
    public void AChannelShuffleTracedWithADynamicBatch_LoadsAsConstantReshapes_ComputingTheSameToTheBit(long opset)
    {
        var exported = ExportForms.AsExported(ExportForms.ChannelShuffle(opset: opset));
        Assert.Contains(exported.Graph.Nodes, n => n.OpType == "Div" && n.Inputs.Any(i => i.Contains("_size")));

        var loaded = Loaded(exported);

        Assert.DoesNotContain(loaded.Graph.Nodes, n => n.OpType is "Shape" or "Gather" or "Unsqueeze" or "Concat" or "Div" or "Constant");
        Assert.Equal([[0, 2, 4, 28, 28], [0, -1, 28, 28]],
            loaded.Graph.Nodes.Where(n => n.OpType == "Reshape").Select(n => loaded.Graph.FindInitializer(n.Inputs[1])!.ToInt64s()));
        // Unoptimised: with every shape known, ONNX Runtime lays the convolutions out otherwise (NCHWc), which moves the
        // last bits; the graph itself computes the same.
        foreach (var count in new[] { 1, 3 })
        {
            long[] shape = [count, 1, 28, 28];
            var images = Images(count);
            Assert.Equal(Ort.Run(OnnxExport.ToBytes(exported), images, shape, GraphOptimizationLevel.ORT_DISABLE_ALL)["logits"],
                Ort.Run(OnnxExport.ToBytes(loaded), images, shape, GraphOptimizationLevel.ORT_DISABLE_ALL)["logits"]);
        }
    }

    // x.view(x[1:].size(0), -1): inference keeps the symbol N on the sliced axis, whose size is N - 1, so the size is the
    // Reshape's own batch by symbol only. The input is named as the new target would be, which must not shadow it.
    [Fact]
    public void ASizeReadFromAnotherTensor_IsNotTakenForTheReshapedOnes_AtAnyBatch()
    {
        var b = new GraphBuilder("sliced_size");
        var x = b.Input("view_shape", 1, 2, 2);
        var g = b.Graph;
        foreach (var (name, values) in new[] { ("one", new long[] { 1 }), ("end", [long.MaxValue]), ("axis0", [0]), ("rest", [-1]) })
            g.AddInitializer(Tensor.FromInt64s(name, [1], values));
        g.AddInitializer(Tensor.FromInt64s("zero", [], [0]));
        g.Nodes.AddRange([
            new Node("slice", "Slice", [x, "one", "end", "axis0"], ["tail"]),
            new Node("shape", "Shape", ["tail"], ["dims"]),
            new Node("gather", "Gather", ["dims", "zero"], ["size"]).With("axis", NodeAttribute.Of(0L)),
            new Node("unsqueeze", "Unsqueeze", ["size", "axis0"], ["size1"]),
            new Node("concat", "Concat", ["size1", "rest"], ["target"]).With("axis", NodeAttribute.Of(0L)),
            new Node("view", "Reshape", [x, "target"], ["flat"])]);
        g.Outputs.Add(new ValueInfo("flat", ElementType.Float, null));
        var exported = b.Build();

        var loaded = Loaded(exported);

        Assert.DoesNotContain(loaded.Graph.Initializers.Keys, k => k == "view_shape");
        foreach (var count in new[] { 2, 3 })
        {
            long[] shape = [count, 1, 2, 2];
            var images = Enumerable.Range(0, count * 4).Select(i => (float)i).ToArray();
            var expected = Ort.Run(OnnxExport.ToBytes(exported), images, shape, GraphOptimizationLevel.ORT_DISABLE_ALL)["flat"];
            Assert.Equal(expected, Ort.Run(OnnxExport.ToBytes(loaded), images, shape, GraphOptimizationLevel.ORT_DISABLE_ALL)["flat"]);
        }
    }

    [Fact]
    public void ATargetWithArithmeticOnTheBatch_IsNotRewritten_AndStaysARefusedOperator()
    {
        var exported = ExportForms.AsExported(ExportForms.NormalisedWithView());
        // x.view(x.size(0) * 2, -1): no constant says twice the batch for every batch size.
        var unsqueeze = exported.Graph.Nodes.Single(n => n.OpType == "Unsqueeze");
        exported.Graph.AddInitializer(Tensor.FromInt64s("two", [], [2]));
        exported.Graph.Nodes.Insert(exported.Graph.Nodes.IndexOf(unsqueeze), new Node("twice", "Mul", [unsqueeze.Inputs[0], "two"], ["twice_batch"]));
        unsqueeze.Inputs[0] = "twice_batch";

        var loaded = Loaded(exported);

        Assert.Contains(loaded.Graph.Nodes, n => n.OpType == "Shape");
        using var temp = new TestPaths.TempFolder();
        ModelFile.Save(exported, temp.File("m.onnx"));
        var e = Assert.Throws<ModelBuildException>(() => CompressionInputs.Load(temp.File("m.onnx"), TestPaths.FashionValidation, null, new CompressionSettings()));
        Assert.Equal(ErrorCodes.UnsupportedOperator, e.Code);
        Assert.Contains("Shape (node", e.Message);
    }

    [Fact]
    public void ASubtractionOfAConstantInsideTheNetwork_IsTheAddOfItsNegation()
    {
        var b = new GraphBuilder("inner");
        var x = b.Relu(b.Conv(b.Input("input", 1, 28, 28), 4));
        var shift = b.Initializer("shift", [1, 4, 1, 1], [0.5f, -1.25f, 3f, 1e-7f]);
        b.Graph.Nodes.Add(new Node("sub", "Sub", [x, shift], ["shifted"]));
        b.Graph.Outputs.Add(new ValueInfo("shifted", ElementType.Float, null));
        var exported = b.Build();

        var loaded = Loaded(exported);

        var add = loaded.Graph.Nodes.Single(n => n.OpType == "Add");
        Assert.Equal([-0.5f, 1.25f, -3f, -1e-7f], loaded.Graph.FindInitializer(add.Inputs[1])!.Floats.ToArray());
        var images = Images(3);
        Assert.Equal(Ort.Run(OnnxExport.ToBytes(exported), images, Batch3)["shifted"], Ort.Run(OnnxExport.ToBytes(loaded), images, Batch3)["shifted"]);
    }

    [Fact]
    public void AUint8InputCastToFloat_LoadsAsAFloatInputOfPixelValues_TakenAsTheyAre()
    {
        var (_, exported) = ExportForms.Pixels();
        using var temp = new TestPaths.TempFolder();
        ModelFile.Save(exported, temp.File("pixels.onnx"));

        var loaded = ModelFile.Load(temp.File("pixels.onnx"));
        var inputs = CompressionInputs.Load(temp.File("pixels.onnx"), TestPaths.FashionValidation, null, new CompressionSettings());

        Assert.Equal(ElementType.Float, loaded.Graph.Inputs[0].Type);
        Assert.DoesNotContain(loaded.Graph.Nodes, n => n.OpType == "Cast");
        Assert.True(ModelFile.WasConverted(loaded));
        // The model's own pixels: 8-bit validation images go in as 0..255.
        Assert.Equal(1f, inputs.Preprocess.Scale);
        var first = new float[50 * inputs.Validation.ImageSize];
        inputs.Validation.CopyImages(0, 50, first);
        Assert.Equal(255f, first.Max());
        Assert.Contains(inputs.Warnings, w => w.Code == ErrorCodes.InputTypeConverted);
        // The same logits from the bytes as from their values in float.
        var pixels = Enumerable.Range(0, 3 * 784).Select(i => (byte)(i * 37 % 256)).ToArray();
        using var session = new InferenceSession(OnnxExport.ToBytes(exported));
        using var value = OrtValue.CreateTensorValueFromMemory(pixels, Batch3);
        using var run = new RunOptions();
        using var outputs = session.Run(run, ["input"], [value], ["logits"]);
        var expected = outputs[0].GetTensorDataAsSpan<float>().ToArray();
        Assert.Equal(expected, Ort.Run(OnnxExport.ToBytes(loaded), [.. pixels.Select(p => (float)p)], Batch3)["logits"]);
    }

    [Fact]
    public void AUint8InputWithAStoredOrGivenPreprocessing_TakesPixelsAsTheyAre_UnlessAScaleIsGiven()
    {
        var (_, exported) = ExportForms.Pixels();
        exported.Metadata["preprocess"] = "mean=0.5;std=2";
        using var temp = new TestPaths.TempFolder();
        ModelFile.Save(exported, temp.File("pixels.onnx"));

        var stored = CompressionInputs.Load(temp.File("pixels.onnx"), TestPaths.FashionValidation, null, new CompressionSettings());
        var given = CompressionInputs.Load(temp.File("pixels.onnx"), TestPaths.FashionValidation, null, new CompressionSettings { Preprocess = "scale=1/255" });
        var givenWithoutScale = CompressionInputs.Load(temp.File("pixels.onnx"), TestPaths.FashionValidation, null, new CompressionSettings { Preprocess = "mean=1;std=4" });

        Assert.Equal("scale=1;mean=0.5;std=2", stored.Preprocess.ToString());
        Assert.Equal(1f / 255f, given.Preprocess.Scale);
        Assert.Equal("scale=1;mean=1;std=4", givenWithoutScale.Preprocess.ToString());
    }
}

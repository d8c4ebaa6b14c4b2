using ModelBuildTasks.Graph;

namespace ModelBuildTasks.Engine.Tests;

public class ConstantWeightsTests
{
    // The same weights reached three ways exporters write them: a Constant node, an Identity of the initializer
    // (torch.onnx's shared parameter), and a Transpose of a stored transpose. Each crashed network slimming
    // (a NullReferenceException) or stayed float under a report that said it was quantized.
    [Fact]
    public void WeightsReachedThroughConstantIdentityOrTranspose_LoadAsThePlainInitializers()
    {
        var original = TestModels.Plain();
        var edited = TestModels.Plain();
        var graph = edited.Graph;
        var convs = graph.Nodes.Where(n => n.OpType == "Conv").ToList();
        var gemm = graph.Nodes.Single(n => n.OpType == "Gemm");

        var first = graph.Initializers[convs[0].Inputs[1]];
        graph.Initializers.Remove(first.Name);
        graph.Nodes.Insert(0, new Node("const_w", "Constant", [], [first.Name]).With("value", NodeAttribute.Of(new Tensor("", first.Type, first.Dims, first.Data))));

        var second = convs[1].Inputs[1];
        graph.Nodes.Insert(0, new Node("shared_w", "Identity", [second], ["shared_w_out"]));
        convs[1].Inputs[1] = "shared_w_out";

        var fc = graph.Initializers[gemm.Inputs[1]]; // [10, 16], transB=1
        var (rows, cols) = ((int)fc.Dims[0], (int)fc.Dims[1]);
        var stored = new float[rows * cols];
        for (var r = 0; r < rows; r++) for (var c = 0; c < cols; c++) stored[c * rows + r] = fc.Floats[r * cols + c];
        graph.Initializers.Remove(fc.Name);
        graph.AddInitializer(Tensor.FromFloats("fc_w_t", [cols, rows], stored));
        graph.Nodes.Insert(0, new Node("fc_transpose", "Transpose", ["fc_w_t"], ["fc_w_back"]).With("perm", NodeAttribute.Of(1L, 0L)));
        gemm.Inputs[1] = "fc_w_back";

        using var temp = new TestPaths.TempFolder();
        ModelFile.Save(edited, temp.File("m.onnx"));
        var loaded = ModelFile.Load(temp.File("m.onnx"));

        Assert.DoesNotContain(loaded.Graph.Nodes, n => n.Name is "const_w" or "shared_w" or "fc_transpose");
        var weights = loaded.Graph.Nodes.Where(n => n.OpType is "Conv" or "Gemm").Select(n => loaded.Graph.FindInitializer(n.Inputs[1])!.Floats.ToArray()).ToList();
        var expected = original.Graph.Nodes.Where(n => n.OpType is "Conv" or "Gemm").Select(n => original.Graph.Initializers[n.Inputs[1]].Floats.ToArray()).ToList();
        Assert.Equal(expected, weights);
        Assert.Equal(second, loaded.Graph.Nodes.Where(n => n.OpType == "Conv").ElementAt(1).Inputs[1]); // the shared tensor, not a copy
        Assert.DoesNotContain("fc_w_t", loaded.Graph.Initializers.Keys); // the transposed original is gone
    }

    [Fact]
    public void AWeightTwoLayersShare_GetsACopyPerLayer_AndBothAreQuantized()
    {
        var model = TestModels.Residual(); // its second and third convolutions are both 8 -> 8, 3x3
        var convs = model.Graph.Nodes.Where(n => n.OpType == "Conv").ToList();
        var shared = convs[1].Inputs[1];
        model.Graph.Initializers.Remove(convs[2].Inputs[1]);
        convs[2].Inputs[1] = shared;
        using var temp = new TestPaths.TempFolder();
        ModelFile.Save(model, temp.File("tied.onnx"));

        var loaded = ModelFile.Load(temp.File("tied.onnx"));
        var weights = loaded.Graph.Nodes.Where(n => n.OpType == "Conv").Select(n => n.Inputs[1]).ToList();
        Assert.Equal(weights.Count, weights.Distinct().Count());
        Assert.Equal(loaded.Graph.Initializers[weights[1]].Data, loaded.Graph.Initializers[weights[2]].Data);

        // Left shared, quantization skipped the tensor: the layers stayed float.
        var (quantized, _) = ModelBuildTasks.Passes.Quantization.QdqQuantizer.Quantize(loaded, ModelBuildTasks.Data.DatasetLoader.Load(TestPaths.FashionValidation, limit: 32));
        Assert.Contains(weights[1] + "_quantized", quantized.Graph.Initializers.Keys);
        Assert.Contains(weights[2] + "_quantized", quantized.Graph.Initializers.Keys);
        Assert.DoesNotContain(weights[1], quantized.Graph.Initializers.Keys);
        Assert.DoesNotContain(weights[2], quantized.Graph.Initializers.Keys);
    }
}

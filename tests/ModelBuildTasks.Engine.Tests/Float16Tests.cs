using System.Runtime.InteropServices;
using ModelBuildTasks.Compression;
using ModelBuildTasks.Graph;
using ModelBuildTasks.Packaging;

namespace ModelBuildTasks.Engine.Tests;

/// <summary>Models stored or computed in float16 become the same models in float at load.</summary>
public class Float16Tests
{
    // The test model in float16: weights, and either the whole interface or (keepIoTypes, as
    // onnxconverter-common does) Casts from the float input and to the float output; with softmax, the
    // output is the Cast of a Softmax over the logits (which the import turns into an Identity).
    internal static OnnxModel Half(bool keepIoTypes, bool softmax = false)
    {
        var model = TestModels.Plain();
        var graph = model.Graph;
        foreach (var t in graph.Initializers.Values.Where(t => t.Type == ElementType.Float).ToList())
        {
            var halves = t.Floats.ToArray().Select(f => (Half)f).ToArray();
            graph.Initializers[t.Name] = new Tensor(t.Name, ElementType.Float16, t.Dims, MemoryMarshal.AsBytes(halves.AsSpan()).ToArray());
        }
        var (input, output) = (graph.Inputs[0], graph.Outputs[0]);
        if (keepIoTypes)
        {
            foreach (var node in graph.Nodes) for (var i = 0; i < node.Inputs.Count; i++) if (node.Inputs[i] == input.Name) node.Inputs[i] = "input_half";
            graph.Nodes.Insert(0, new Node("to_half", "Cast", [input.Name], ["input_half"]).With("to", NodeAttribute.Of((long)ElementType.Float16)));
            var producer = graph.Producer(output.Name)!;
            producer.Outputs[0] = softmax ? "logits_half" : "output_half";
            if (softmax) graph.Nodes.Add(new Node("softmax", "Softmax", ["logits_half"], ["output_half"]).With("axis", NodeAttribute.Of(1L)));
            graph.Nodes.Add(new Node("to_float", "Cast", ["output_half"], [output.Name]).With("to", NodeAttribute.Of((long)ElementType.Float)));
        }
        else
        {
            graph.Inputs[0] = input with { Type = ElementType.Float16 };
            graph.Outputs[0] = output with { Type = ElementType.Float16 };
        }
        graph.ValueInfos.Clear();
        return model;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void AFloat16Model_LoadsAsTheSameModelInFloat_AndCompresses(bool keepIoTypes)
    {
        using var temp = new TestPaths.TempFolder();
        ModelFile.Save(Half(keepIoTypes), temp.File("half.onnx"));

        var loaded = ModelFile.Load(temp.File("half.onnx"));
        Assert.True(ModelFile.WasConverted(loaded));
        Assert.DoesNotContain(loaded.Graph.Nodes, n => n.OpType == "Cast");
        Assert.All(loaded.Graph.Initializers.Values, t => Assert.NotEqual(ElementType.Float16, t.Type));
        Assert.Equal(ElementType.Float, loaded.Graph.Inputs[0].Type);
        // The float original's outputs, but for its weights' float16 rounding.
        var input = TestModels.RandomInput(1, 2, 1, 28, 28);
        var expected = Ort.Run(OnnxExport.ToBytes(TestModels.Plain()), input, [2, 1, 28, 28])["logits"];
        var actual = Ort.Run(OnnxExport.ToBytes(loaded), input, [2, 1, 28, 28])["logits"];
        Assert.True(Ort.MaxDifference(expected, actual) < 0.01f * (1 + expected.Max(Math.Abs)), $"max difference {Ort.MaxDifference(expected, actual)}");

        var (container, report) = Compressor.Run(temp.File("half.onnx"), TestPaths.FashionValidation, null,
            new CompressionSettings { Search = SearchKind.Fixed, Methods = ["iq"], Bits = 7, TargetAccuracy = 0, MaxValidationImages = 64 });
        Assert.Equal(40, Ort.Run(ContainerPackaging.ToOnnx(container), TestModels.RandomInput(2, 4, 1, 28, 28), [4, 1, 28, 28])["logits"].Length);
        Assert.True(report.Ratio > 1);
    }
}

using ModelBuildTasks.Graph;

namespace ModelBuildTasks.Tests;

/// <summary>
/// Models as exporters write patterns that loading makes canonical (<c>ModelFile.Load</c>): a normalisation kept in
/// the graph as <c>Sub</c>, torch's <c>x.view(x.size(0), -1)</c> as Shape, Gather, Unsqueeze, Concat and Reshape, and
/// a uint8 input cast to float. Each is built in the form the engine works on, then rewritten into the exported one.
/// </summary>
static class ExportForms
{
    /// <summary>(x - mean) / std, two conv-relu-pool blocks, a view to [N, -1] and a classifier, in the canonical form: an Add of the negated mean and a Reshape to [0, -1].</summary>
    public static OnnxModel NormalisedWithView(int seed = 3, long opset = 13)
    {
        var b = new GraphBuilder("normalised_view", seed, opset);
        var x = b.Input("input", 1, 28, 28);
        x = b.Add("Add", [x, b.Initializer("mean", [1, 1, 1, 1], [-0.2860f])]);
        x = b.Add("Div", [x, b.Initializer("std", [1, 1, 1, 1], [0.3530f])]);
        x = b.MaxPool(b.Relu(b.Conv(x, 8)), 2);
        x = b.MaxPool(b.Relu(b.Conv(x, 16)), 2);
        var target = $"view_{b.Graph.Initializers.Count}";
        b.Graph.AddInitializer(Tensor.FromInt64s(target, [2], [0, -1]));
        b.Output(b.Linear(b.Add("Reshape", [x, target]), 10), "logits");
        return b.Build();
    }

    /// <summary>
    /// <paramref name="canonical"/> as torch.onnx.export writes it: the Add of a constant on the input a Sub of its
    /// negation, and each Reshape to [0, -1] one whose target is computed from its input's shape, with Constant nodes
    /// (the Unsqueeze's axes an attribute before opset 13, an input from it).
    /// </summary>
    public static OnnxModel AsExported(OnnxModel canonical)
    {
        var model = OnnxImport.ToModel(OnnxExport.ToProto(canonical));
        var graph = model.Graph;
        var opset = model.Opsets.First(o => o.Domain == "").Version;
        var input = graph.Inputs[0].Name;
        foreach (var add in graph.Nodes.Where(n => n.OpType == "Add" && n.Inputs[0] == input && graph.FindInitializer(n.Inputs[1]) is not null).ToList())
        {
            var negation = graph.FindInitializer(add.Inputs[1])!;
            var mean = negation.Floats.ToArray().Select(v => -v).ToArray();
            graph.Initializers[negation.Name] = Tensor.FromFloats(negation.Name, negation.Dims, mean);
            add.OpType = "Sub";
        }
        foreach (var reshape in graph.Nodes.Where(n => n.OpType == "Reshape" && graph.FindInitializer(n.Inputs[1])?.ToInt64s() is [0, -1]).ToList())
        {
            var p = reshape.Name;
            Node Constant(string name, long[] dims, long[] values) =>
                new Node(name, "Constant", [], [name]).With("value", NodeAttribute.Of(Tensor.FromInt64s(name, dims, values)));
            var unsqueeze = opset >= 13
                ? new Node($"{p}_unsqueeze", "Unsqueeze", [$"{p}_batch", $"{p}_axes"], [$"{p}_batch1"])
                : new Node($"{p}_unsqueeze", "Unsqueeze", [$"{p}_batch"], [$"{p}_batch1"]).With("axes", NodeAttribute.Of([0L]));
            List<Node> chain =
            [
                new Node($"{p}_shape", "Shape", [reshape.Inputs[0]], [$"{p}_dims"]),
                Constant($"{p}_zero", [], [0]),
                new Node($"{p}_gather", "Gather", [$"{p}_dims", $"{p}_zero"], [$"{p}_batch"]).With("axis", NodeAttribute.Of(0L)),
                .. opset >= 13 ? [Constant($"{p}_axes", [1], [0])] : Array.Empty<Node>(),
                unsqueeze,
                Constant($"{p}_rest", [1], [-1]),
                new Node($"{p}_concat", "Concat", [$"{p}_batch1", $"{p}_rest"], [$"{p}_target"]).With("axis", NodeAttribute.Of(0L)),
            ];
            graph.Nodes.InsertRange(graph.Nodes.IndexOf(reshape), chain);
            reshape.Inputs[1] = $"{p}_target";
        }
        graph.ValueInfos.Clear();
        Passes.UnusedInitializers.Remove(graph);
        return model;
    }

    /// <summary>
    /// A uint8 image input that the graph casts to float and divides by 255, then <see cref="TestModels.Plain"/>'s
    /// layers: as loaded (a float input of pixel values, then the Div), and as exported (the Cast first).
    /// </summary>
    public static (OnnxModel Loaded, OnnxModel Exported) Pixels(int seed = 5)
    {
        var b = new GraphBuilder("pixels", seed);
        var x = b.Add("Div", [b.Input("input", 1, 28, 28), b.Initializer("k255", [], [255f])]);
        x = b.MaxPool(b.Relu(b.Conv(x, 8)), 2);
        x = b.MaxPool(b.Relu(b.Conv(x, 16)), 2);
        b.Output(b.Linear(b.Flatten(b.GlobalAveragePool(x)), 10), "logits");
        var loaded = b.Build();
        var exported = OnnxImport.ToModel(OnnxExport.ToProto(loaded));
        var graph = exported.Graph;
        var input = graph.Inputs[0];
        foreach (var node in graph.Nodes)
            for (var i = 0; i < node.Inputs.Count; i++)
                if (node.Inputs[i] == input.Name) node.Inputs[i] = "input_float";
        graph.Nodes.Insert(0, new Node("cast", "Cast", [input.Name], ["input_float"]).With("to", NodeAttribute.Of((long)ElementType.Float)));
        graph.Inputs[0] = input with { Type = ElementType.UInt8 };
        graph.ValueInfos.Clear();
        return (loaded, exported);
    }
}

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
    /// <paramref name="canonical"/> as torch.onnx.export writes it with a dynamic batch: the Add of a constant on the
    /// input a Sub of its negation, and each Reshape's target computed from its input's shape, with Constant nodes (the
    /// Unsqueeze's axes an attribute before opset 13, an input from it).
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
        // Sizes as PyTorch traces them with a dynamic batch: the batch (0) and any size the input has (somewhere, or twice
        // over, as c // groups) read from its shape, -1 and other numbers constants.
        var shapes = Shapes.ShapeInference.Infer(canonical.Graph).Values;
        foreach (var reshape in graph.Nodes.Where(n => n.OpType == "Reshape" && graph.FindInitializer(n.Inputs[1]) is not null).ToList())
        {
            var target = graph.FindInitializer(reshape.Inputs[1])!.ToInt64s();
            var dims = shapes[reshape.Inputs[0]].Shape!.Dims;
            var p = reshape.Name;
            var chain = new List<Node> { new($"{p}_shape", "Shape", [reshape.Inputs[0]], [$"{p}_dims"]) };
            string Constant(string name, long[] dims, params long[] values)
            {
                chain.Add(new Node(name, "Constant", [], [name]).With("value", NodeAttribute.Of(Tensor.FromInt64s(name, dims, values))));
                return name;
            }
            string Dim(int i, int axis)
            {
                chain.Add(new Node($"{p}_gather{i}", "Gather", [$"{p}_dims", Constant($"{p}_index{i}", [], axis)], [$"{p}_size{i}"]).With("axis", NodeAttribute.Of(0L)));
                return $"{p}_size{i}";
            }
            string Vector(int i, string scalar)
            {
                chain.Add(opset >= 13
                    ? new Node($"{p}_unsqueeze{i}", "Unsqueeze", [scalar, Constant($"{p}_axes{i}", [1], 0)], [$"{p}_part{i}"])
                    : new Node($"{p}_unsqueeze{i}", "Unsqueeze", [scalar], [$"{p}_part{i}"]).With("axes", NodeAttribute.Of([0L])));
                return $"{p}_part{i}";
            }
            var parts = new List<string>();
            for (var i = 0; i < target.Length; i++)
            {
                var same = Enumerable.Range(0, dims.Count).FirstOrDefault(j => dims[j].IsKnown && dims[j].Value == target[i], -1);
                var twice = Enumerable.Range(0, dims.Count).FirstOrDefault(j => dims[j].IsKnown && dims[j].Value == 2 * target[i], -1);
                parts.Add(target[i] == 0 ? Vector(i, Dim(i, i))
                    : target[i] > 0 && same >= 0 ? Vector(i, Dim(i, same))
                    : target[i] > 0 && twice >= 0 ? Vector(i, Add(chain, $"{p}_half{i}", "Div", Dim(i, twice), Constant($"{p}_two{i}", [], 2)))
                    : Constant($"{p}_value{i}", [1], target[i]));
            }
            chain.Add(new Node($"{p}_concat", "Concat", parts, [$"{p}_target"]).With("axis", NodeAttribute.Of(0L)));
            graph.Nodes.InsertRange(graph.Nodes.IndexOf(reshape), chain);
            reshape.Inputs[1] = $"{p}_target";
        }
        graph.ValueInfos.Clear();
        Passes.UnusedInitializers.Remove(graph);
        return model;
    }

    static string Add(List<Node> nodes, string name, string opType, params string[] inputs)
    {
        nodes.Add(new Node(name, opType, inputs, [name]));
        return name;
    }

    /// <summary>
    /// ShuffleNet's channel shuffle between two convolutions, canonical: a Reshape to [0, 2, 4, 28, 28], a Transpose of
    /// the groups and a Reshape to [0, -1, 28, 28]. Traced (<see cref="AsExported"/>), its sizes come from the shapes,
    /// 4 as 8 // 2.
    /// </summary>
    public static OnnxModel ChannelShuffle(int seed = 7, long opset = 13)
    {
        var b = new GraphBuilder("channel_shuffle", seed, opset);
        var x = b.Relu(b.Conv(b.Input("input", 1, 28, 28), 8));
        string Shape(params long[] values)
        {
            var name = $"shape_{b.Graph.Initializers.Count}";
            b.Graph.AddInitializer(Tensor.FromInt64s(name, [values.Length], values));
            return name;
        }
        x = b.Add("Reshape", [x, Shape(0, 2, 4, 28, 28)]);
        x = b.Add("Transpose", [x], ("perm", NodeAttribute.Of(0L, 2L, 1L, 3L, 4L)));
        x = b.Add("Reshape", [x, Shape(0, -1, 28, 28)]);
        x = b.MaxPool(b.Relu(b.Conv(x, 16)), 2);
        b.Output(b.Linear(b.Flatten(b.GlobalAveragePool(x)), 10), "logits");
        return b.Build();
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

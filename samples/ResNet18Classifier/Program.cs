using System.Globalization;
using System.Reflection;
using ModelBuildTasks.Data;
using ModelBuildTasks.Evaluation;
using ModelBuildTasks.Graph;

// A real 224x224 classifier to measure on: ResNet-18's trunk from the NuGet package
// Microsoft.ML.DnnImageFeaturizer.ResNet18 (restored with this project, 45 MB, never committed) with
// a linear head trained on its features of Fashion-MNIST resized to 224x224x3 (head.onnx, committed,
// 20 KB). The trunk's fixed batch of 1 becomes a symbolic one, as PyTorch exports it.
// Usage:
//   resnet18-classifier compose -o OUT.onnx [--trunk R18.onnx] [--head head.onnx]
//   resnet18-classifier train-head -o head.onnx [--trunk R18.onnx] [--data IDX] [--images N] [--preprocess SPEC]
var command = args.Length > 0 ? args[0] : "";
string Option(string name, string fallback) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
var trunkPath = Option("--trunk", typeof(Classifier).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "ResNet18Path").Value!);
var output = Option("-o", "");
if (command is not ("compose" or "train-head") || output.Length == 0)
{
    Console.Error.WriteLine("usage: resnet18-classifier compose|train-head -o OUT.onnx [--trunk R18.onnx] [--head head.onnx] [--data IDX] [--images N]");
    return 2;
}
if (command == "compose")
{
    var head = ModelFile.Load(Option("--head", Path.Combine(AppContext.BaseDirectory, "head.onnx")));
    ModelFile.Save(Classifier.Compose(Classifier.Trunk(trunkPath), head), output);
    Console.Error.WriteLine($"wrote {output}");
    return 0;
}
var repo = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../../.."));
var data = Option("--data", Path.Combine(repo, "samples/data/fashion-mnist/train-images-idx3-ubyte.gz"));
var count = int.Parse(Option("--images", "4000"), CultureInfo.InvariantCulture);
var trained = Classifier.TrainHead(Classifier.Trunk(trunkPath), data, count, Option("--preprocess", Classifier.Preprocess));
ModelFile.Save(trained, output);
Console.Error.WriteLine($"wrote {output}");
return 0;

/// <summary>The trunk, the head and how they are put together.</summary>
static class Classifier
{
    // The CNTK-trained trunk expects 0-255 pixels less a mean (ImageNet's, ~114 over its channels): with
    // [0, 1] pixels most of its features die and the rest are tiny, a head on them needs huge weights.
    public const string Preprocess = "resize=224x224;channels=3;scale=1;mean=114";
    const string Labels = "T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle boot";
    const int Features = 512, Classes = 10;

    /// <summary>The ResNet-18 trunk with a symbolic batch: [N,3,224,224] -> [N,512,1,1].</summary>
    public static OnnxModel Trunk(string path)
    {
        var trunk = ModelFile.Load(path);
        var graph = trunk.Graph;
        // Only Conv, BatchNormalization, Relu, Add and pooling: nothing depends on the batch being 1.
        graph.Inputs[0] = graph.Inputs[0] with { Shape = new TensorShape([Dim.Named("N"), .. graph.Inputs[0].Shape!.Dims.Skip(1)]) };
        graph.Outputs[0] = graph.Outputs[0] with { Shape = new TensorShape([Dim.Named("N"), .. graph.Outputs[0].Shape!.Dims.Skip(1)]) };
        graph.ValueInfos.Clear();
        return trunk;
    }

    /// <summary>Trunk, then the head's nodes and weights; the head's input is the trunk's output.</summary>
    public static OnnxModel Compose(OnnxModel trunk, OnnxModel head)
    {
        var graph = trunk.Graph;
        var features = graph.Outputs[0].Name;
        var headInput = head.Graph.Inputs[0].Name;
        foreach (var tensor in head.Graph.Initializers.Values) graph.AddInitializer(tensor);
        foreach (var node in head.Graph.Nodes)
        {
            for (var i = 0; i < node.Inputs.Count; i++)
                if (node.Inputs[i] == headInput) node.Inputs[i] = features;
            graph.Nodes.Add(node);
        }
        graph.Outputs.Clear();
        graph.Outputs.AddRange(head.Graph.Outputs);
        graph.Name = "resnet18_fashion";
        trunk.Metadata["labels"] = Labels;
        trunk.Metadata["preprocess"] = head.Metadata.GetValueOrDefault("preprocess") ?? Preprocess;
        trunk.Metadata["dataset"] = "Fashion-MNIST, resized to 224x224x3";
        return trunk;
    }

    /// <summary>
    /// Softmax regression on the trunk's features of <paramref name="count"/> training images: the
    /// features are standardized, fitted by full-batch gradient descent with momentum, and the
    /// standardization is folded back into the Gemm, so the head reads the raw features.
    /// </summary>
    public static OnnxModel TrainHead(OnnxModel trunk, string dataPath, int count, string preprocess)
    {
        var spec = PreprocessSpec.Parse(preprocess);
        var raw = DatasetLoader.LoadRaw(dataPath);
        count = Math.Min(count, raw.Count);
        var labels = raw.Labels ?? throw new InvalidOperationException($"{dataPath} has no labels");
        var x = new float[count * Features];
        using (var runner = new ModelRunner(OnnxExport.ToBytes(trunk)))
            for (var start = 0; start < count; start += 250) // 250 images at 224x224x3 are 150 MB of floats
            {
                var n = Math.Min(250, count - start);
                var chunk = Preprocessing.Apply(raw.Subset(Enumerable.Range(start, n).ToArray()), spec);
                runner.Outputs(chunk).CopyTo(x.AsSpan(start * Features));
                Console.Error.WriteLine($"features {start + n}/{count}");
            }

        var mean = new double[Features];
        var deviation = new double[Features];
        for (var f = 0; f < Features; f++)
        {
            for (var i = 0; i < count; i++) mean[f] += x[i * Features + f];
            mean[f] /= count;
            for (var i = 0; i < count; i++) deviation[f] += Math.Pow(x[i * Features + f] - mean[f], 2);
            deviation[f] = Math.Sqrt(deviation[f] / count) + 1e-6;
        }
        var z = new double[count * Features];
        for (var i = 0; i < count; i++)
            for (var f = 0; f < Features; f++) z[i * Features + f] = (x[i * Features + f] - mean[f]) / deviation[f];

        var w = new double[Classes * Features];
        var b = new double[Classes];
        var vw = new double[w.Length];
        var vb = new double[Classes];
        const double rate = 0.5, momentum = 0.9, decay = 1e-3;
        for (var step = 0; step < 300; step++)
        {
            var gw = new double[w.Length];
            var gb = new double[Classes];
            var loss = 0.0;
            var logits = new double[Classes];
            for (var i = 0; i < count; i++)
            {
                var row = z.AsSpan(i * Features, Features);
                for (var c = 0; c < Classes; c++) logits[c] = b[c] + System.Numerics.Tensors.TensorPrimitives.Dot<double>(w.AsSpan(c * Features, Features), row);
                var max = logits.Max();
                var sum = logits.Sum(l => Math.Exp(l - max));
                loss -= logits[labels[i]] - max - Math.Log(sum);
                for (var c = 0; c < Classes; c++)
                {
                    var g = (Math.Exp(logits[c] - max) / sum - (c == labels[i] ? 1 : 0)) / count;
                    gb[c] += g;
                    System.Numerics.Tensors.TensorPrimitives.MultiplyAdd<double>(row, g, gw.AsSpan(c * Features, Features), gw.AsSpan(c * Features, Features));
                }
            }
            for (var k = 0; k < w.Length; k++) { vw[k] = momentum * vw[k] - rate * (gw[k] + decay * w[k]); w[k] += vw[k]; }
            for (var c = 0; c < Classes; c++) { vb[c] = momentum * vb[c] - rate * gb[c]; b[c] += vb[c]; }
            if (step % 50 == 0) Console.Error.WriteLine($"step {step}: loss {loss / count:0.0000}");
        }

        // logits = W (x - mean) / sd + b = (W / sd) x + (b - W mean / sd)
        var weight = new float[Classes * Features];
        var bias = new float[Classes];
        for (var c = 0; c < Classes; c++)
        {
            var shift = b[c];
            for (var f = 0; f < Features; f++)
            {
                weight[c * Features + f] = (float)(w[c * Features + f] / deviation[f]);
                shift -= w[c * Features + f] * mean[f] / deviation[f];
            }
            bias[c] = (float)shift;
        }
        var head = new OnnxModel { IrVersion = trunk.IrVersion, ProducerName = "resnet18-classifier" };
        head.Metadata["preprocess"] = preprocess;
        Console.Error.WriteLine($"dead features: {Enumerable.Range(0, Features).Count(f => deviation[f] < 1e-5)} of {Features}; feature mean {mean.Average():G3}, largest {mean.Max():G3}");
        head.Opsets.Clear();
        head.Opsets.AddRange(trunk.Opsets);
        var graph = head.Graph;
        graph.Name = "head";
        graph.Inputs.Add(new ValueInfo("features", ElementType.Float, new TensorShape([Dim.Named("N"), Features, 1, 1])));
        graph.AddInitializer(Tensor.FromFloats("head_weight", [Classes, Features], weight));
        graph.AddInitializer(Tensor.FromFloats("head_bias", [Classes], bias));
        graph.Nodes.Add(new Node("head_flatten", "Flatten", ["features"], ["head_flat"]).With("axis", NodeAttribute.Of(1L)));
        graph.Nodes.Add(new Node("head_gemm", "Gemm", ["head_flat", "head_weight", "head_bias"], ["logits"]).With("transB", NodeAttribute.Of(1L)));
        graph.Outputs.Add(new ValueInfo("logits", ElementType.Float, new TensorShape([Dim.Named("N"), Classes])));
        return head;
    }
}

using ModelBuildTasks.Graph;

namespace ModelBuildTasks.Tests;

/// <summary>
/// Shape-faithful small members of the common CNN families, written as <c>torch.onnx.export</c>
/// writes them in eval mode at opset 14: BatchNorm folded into each Conv's bias (except
/// pre-activation DenseNet's, which has no Conv before it), ReLU6 as Clip with min/max inputs,
/// HardSwish and HardSigmoid (alpha 1/6) as operators, SiLU as Sigmoid x Mul, squeeze-and-excite
/// as GlobalAveragePool or ReduceMean -> Conv -> act -> Conv -> gate -> Mul, channel shuffle as
/// Reshape/Transpose/Reshape and channel split as Split, the classifier as Flatten + Gemm(transB). Input [N, 1, 28, 28].
/// </summary>
static class ZooModels
{
    /// <summary>The members by name.</summary>
    public static readonly IReadOnlyDictionary<string, Func<OnnxModel>> Members = new Dictionary<string, Func<OnnxModel>>
    {
        ["mobilenet_v2"] = MobileNetV2,
        ["mobilenet_v3_small"] = MobileNetV3Small,
        ["efficientnet_b0"] = EfficientNetB0,
        ["resnet50_bottleneck"] = ResNet50Bottleneck,
        ["squeezenet_fire"] = SqueezeNetFire,
        ["shufflenet_v2"] = ShuffleNetV2,
        ["shufflenet_v2_traced"] = () => Traced(ShuffleNetV2()),
        ["densenet121"] = () => TestModels.Dense(),
        ["inception_block"] = InceptionBlock,
        ["vgg_no_bn"] = VggNoBatchNorm,
        ["tf_nhwc_convnet"] = TensorFlowConvNet,
        ["pytorch_log_softmax"] = PyTorchLogSoftmax,
        ["prelu_global_max_pool"] = PReluGlobalMaxPool,
        ["pytorch_view_normalised"] = PyTorchViewNormalised,
    };

    /// <summary>The opset the members are written at (HardSwish needs 14).</summary>
    public const long Opset = 14;

    static OnnxModel MobileNetV2()
    {
        var (b, x) = Start("mobilenet_v2", 11);
        x = Relu6(b, Conv(b, x, 8, stride: 2));
        // Inverted residual, stride 1: expand 1x1, depthwise 3x3, linear projection, identity shortcut.
        var y = Relu6(b, Conv(b, x, 32, kernel: 1));
        y = Relu6(b, Conv(b, y, 32, group: 32));
        x = b.Sum(x, Conv(b, y, 8, kernel: 1));
        // Stride 2: no shortcut.
        y = Relu6(b, Conv(b, x, 32, kernel: 1));
        y = Relu6(b, Conv(b, y, 32, stride: 2, group: 32));
        x = Conv(b, y, 16, kernel: 1);
        x = Relu6(b, Conv(b, x, 48, kernel: 1));
        return Classifier(b, b.GlobalAveragePool(x));
    }

    static OnnxModel MobileNetV3Small()
    {
        var (b, x) = Start("mobilenet_v3_small", 12);
        x = HardSwish(b, Conv(b, x, 8, stride: 2));
        // Block with SE after the depthwise conv (torchvision's adaptive_avg_pool2d: GlobalAveragePool).
        var y = b.Relu(Conv(b, x, 8, stride: 2, group: 8));
        y = SqueezeExcite(b, y, 4, b.GlobalAveragePool, b.Relu, v => HardSigmoid(b, v));
        x = Conv(b, y, 12, kernel: 1);
        // Expanded block with HardSwish, SE written as mean over H and W, and a residual.
        y = HardSwish(b, Conv(b, x, 24, kernel: 1));
        y = HardSwish(b, Conv(b, y, 24, group: 24));
        y = SqueezeExcite(b, y, 8, v => SpatialMean(b, v), b.Relu, v => HardSigmoid(b, v));
        x = b.Sum(x, Conv(b, y, 12, kernel: 1));
        x = HardSwish(b, Conv(b, x, 32, kernel: 1));
        var features = HardSwish(b, b.Linear(b.Flatten(b.GlobalAveragePool(x)), 24));
        b.Output(b.Linear(features, 10), "logits");
        return b.Build();
    }

    static OnnxModel EfficientNetB0()
    {
        var (b, x) = Start("efficientnet_b0", 13);
        x = SiLU(b, Conv(b, x, 8, stride: 2));
        // MBConv: expand, depthwise, SE (mean, SiLU, Sigmoid), projection, residual.
        var y = SiLU(b, Conv(b, x, 32, kernel: 1));
        y = SiLU(b, Conv(b, y, 32, group: 32));
        y = SqueezeExcite(b, y, 4, v => SpatialMean(b, v), v => SiLU(b, v), v => b.Add("Sigmoid", [v]));
        x = b.Sum(x, Conv(b, y, 8, kernel: 1));
        x = SiLU(b, Conv(b, x, 32, kernel: 1));
        return Classifier(b, b.GlobalAveragePool(x));
    }

    static OnnxModel ResNet50Bottleneck()
    {
        var (b, x) = Start("resnet50_bottleneck", 14);
        x = b.MaxPool(b.Relu(Conv(b, x, 8, kernel: 7, stride: 2)), 3, 2);
        // Bottleneck with a projection shortcut, then one with an identity shortcut.
        x = b.Relu(b.Sum(Conv(b, x, 32, kernel: 1), Bottleneck(b, x, 8, 32)));
        x = b.Relu(b.Sum(x, Bottleneck(b, x, 8, 32)));
        return Classifier(b, b.GlobalAveragePool(x));
    }

    static string Bottleneck(GraphBuilder b, string x, int width, int outChannels)
    {
        var y = b.Relu(Conv(b, x, width, kernel: 1));
        y = b.Relu(Conv(b, y, width));
        return Conv(b, y, outChannels, kernel: 1);
    }

    static OnnxModel SqueezeNetFire()
    {
        var (b, x) = Start("squeezenet_fire", 15);
        x = b.Add("MaxPool", [b.Relu(Conv(b, x, 16, stride: 2, pad: 0))],
            ("kernel_shape", NodeAttribute.Of([3L, 3L])), ("strides", NodeAttribute.Of([2L, 2L])), ("ceil_mode", NodeAttribute.Of(1L)));
        for (var i = 0; i < 2; i++)
        {
            var squeeze = b.Relu(Conv(b, x, 4, kernel: 1));
            x = b.Concat(b.Relu(Conv(b, squeeze, 8, kernel: 1)), b.Relu(Conv(b, squeeze, 8)));
        }
        // SqueezeNet classifies with a 1x1 conv and global pooling, no Gemm.
        var logits = b.Flatten(b.GlobalAveragePool(b.Relu(Conv(b, x, 10, kernel: 1))));
        b.Output(logits, "logits");
        return b.Build();
    }

    static OnnxModel ShuffleNetV2()
    {
        var (b, x) = Start("shufflenet_v2", 16);
        x = b.Relu(Conv(b, x, 12, stride: 2));
        // The stride-2 unit: both branches see the whole input, are concatenated, then shuffled.
        var left = b.Relu(Conv(b, Conv(b, x, 12, stride: 2, group: 12), 12, kernel: 1));
        var right = b.Relu(Conv(b, x, 12, kernel: 1));
        right = b.Relu(Conv(b, Conv(b, right, 12, stride: 2, group: 12), 12, kernel: 1));
        x = Shuffle(b, b.Concat(left, right));
        // The stride-1 unit: half the channels pass, the other half go through the branch (x.chunk(2, dim=1): Split).
        var halves = b.AddOutputs("Split", [x, Int64s(b, 12, 12)], 2, ("axis", NodeAttribute.Of(1L)));
        right = b.Relu(Conv(b, halves[1], 12, kernel: 1));
        right = b.Relu(Conv(b, Conv(b, right, 12, group: 12), 12, kernel: 1));
        x = Shuffle(b, b.Concat(halves[0], right));
        x = b.Relu(Conv(b, x, 32, kernel: 1));
        return Classifier(b, b.GlobalAveragePool(x));
    }

    static string Shuffle(GraphBuilder b, string x)
    {
        x = b.Add("Reshape", [x, Int64s(b, 0, 2, 12, 7, 7)]);
        x = b.Add("Transpose", [x], ("perm", NodeAttribute.Of([0L, 2L, 1L, 3L, 4L])));
        return b.Add("Reshape", [x, Int64s(b, 0, 24, 7, 7)]);
    }

    static OnnxModel InceptionBlock()
    {
        var (b, x) = Start("inception_block", 17);
        x = b.MaxPool(b.Relu(Conv(b, x, 16)), 2);
        var one = b.Relu(Conv(b, x, 8, kernel: 1));
        var three = b.Relu(Conv(b, b.Relu(Conv(b, x, 6, kernel: 1)), 8));
        var five = b.Relu(Conv(b, b.Relu(Conv(b, b.Relu(Conv(b, x, 4, kernel: 1)), 6)), 6));
        var pool = b.Add("AveragePool", [x], ("kernel_shape", NodeAttribute.Of([3L, 3L])), ("pads", NodeAttribute.Of([1L, 1L, 1L, 1L])), ("count_include_pad", NodeAttribute.Of(0L)));
        x = b.Concat(one, three, five, b.Relu(Conv(b, pool, 4, kernel: 1)));
        return Classifier(b, b.GlobalAveragePool(x));
    }

    // nn.PReLU(C) (slope [C, 1, 1]) and nn.PReLU() (slope [1]), an h_swish written as x * relu6(x + 3) / 6 (the Div of
    // hand-written MobileNetV3s), and AdaptiveMaxPool2d(1) as GlobalMaxPool.
    static OnnxModel PReluGlobalMaxPool()
    {
        var (b, x) = Start("prelu_global_max_pool", 20);
        var c = Conv(b, x, 8, stride: 2);
        x = b.Add("PRelu", [c, b.Initializer("slope", [8, 1, 1], Enumerable.Range(0, 8).Select(i => 0.05f + 0.03f * i).ToArray())]);
        x = b.MaxPool(b.Add("PRelu", [Conv(b, x, 32), b.Constant("slope", [1], 0.25f)]), 2);
        var y = Conv(b, x, 32);
        x = b.Add("Div", [b.Add("Mul", [y, Relu6(b, b.Add("Add", [y, b.Constant("three", [], 3f)]))]), b.Constant("six", [], 6f)]);
        return Classifier(b, b.Add("GlobalMaxPool", [x]));
    }

    static OnnxModel VggNoBatchNorm()
    {
        var (b, x) = Start("vgg_no_bn", 18);
        x = b.MaxPool(b.Relu(Conv(b, b.Relu(Conv(b, x, 8)), 8)), 2);
        x = b.MaxPool(b.Relu(Conv(b, b.Relu(Conv(b, x, 16)), 16)), 2);
        var hidden = b.Dropout(b.Relu(b.Linear(b.Add("Reshape", [x, Int64s(b, -1, 16 * 7 * 7)]), 32)), 0.5f);
        b.Output(b.Linear(hidden, 10), "logits");
        return b.Build();
    }

    // As tf2onnx writes a Keras convnet: an N x H x W x C input transposed first, BatchNorm folded,
    // a Softmax output. Loading converts the input to N x C x H x W (ChannelsFirstInput), as here.
    static OnnxModel TensorFlowConvNet()
    {
        var b = new GraphBuilder("tf_nhwc_convnet", 19, Opset);
        var x = b.InputChannelsLast("input", 28, 28, 1);
        x = b.MaxPool(b.Relu(Conv(b, x, 12)), 2);
        x = b.MaxPool(b.Relu(Conv(b, x, 24)), 2);
        var logits = b.Linear(b.Flatten(b.GlobalAveragePool(b.Relu(Conv(b, x, 32)))), 10);
        b.Output(b.Add("Softmax", [logits], ("axis", NodeAttribute.Of(-1L))), "logits");
        var model = b.Build();
        if (!Passes.ChannelsFirstInput.Apply(model)) throw new InvalidOperationException("the NHWC input was not converted");
        return model;
    }

    // As PyTorch exports a small MNIST-style convnet at opset 11: a Squeeze (its axes an attribute until
    // opset 13) after the pooling, and log_softmax at the end (LogSoftmax's axis semantics changed at 13).
    static OnnxModel PyTorchLogSoftmax()
    {
        var b = new GraphBuilder("pytorch_log_softmax", 21, 11);
        var x = b.Input("input", 1, 28, 28);
        x = b.MaxPool(b.Relu(Conv(b, x, 8)), 2);
        x = b.Relu(Conv(b, b.Relu(Conv(b, x, 16)), 16));
        var pooled = b.Add("Squeeze", [b.GlobalAveragePool(x)], ("axes", NodeAttribute.Of(2L, 3L)));
        b.Output(b.Add("LogSoftmax", [b.Linear(pooled, 10)], ("axis", NodeAttribute.Of(1L))), "logits");
        return b.Build();
    }

    // As PyTorch exports a module that normalises its input, (x - mean) / std, and flattens with x.view(x.size(0), -1):
    // a Sub, and the view's target computed by Shape, Gather, Unsqueeze and Concat. Loaded as the engine loads it.
    static OnnxModel PyTorchViewNormalised() => Traced(ExportForms.NormalisedWithView(seed: 22, opset: Opset));

    // As PyTorch traces the model with a dynamic batch (its Reshapes' targets computed from shapes), loaded as the engine loads it.
    static OnnxModel Traced(OnnxModel model) => ModelFile.Load(OnnxExport.ToBytes(ExportForms.AsExported(model)), model.Graph.Name + ".onnx");

    static (GraphBuilder, string) Start(string name, int seed)
    {
        var b = new GraphBuilder(name, seed, Opset);
        return (b, b.Input("input", 1, 28, 28));
    }

    static OnnxModel Classifier(GraphBuilder b, string pooled)
    {
        b.Output(b.Linear(b.Flatten(pooled), 10), "logits");
        return b.Build();
    }

    // A conv whose bias came from a folded BatchNorm: small, non-zero, different per channel.
    static string Conv(GraphBuilder b, string x, int outChannels, int kernel = 3, int stride = 1, int pad = -1, int group = 1)
    {
        var y = b.Conv(x, outChannels, kernel, stride, pad, group);
        var bias = b.Graph.Initializers[b.Graph.Nodes[^1].Inputs[2]].Floats;
        var random = new Random(b.Graph.Nodes.Count);
        for (var i = 0; i < bias.Length; i++) bias[i] = (float)(random.NextDouble() * 0.2 - 0.1);
        return y;
    }

    static string Relu6(GraphBuilder b, string x) => b.Add("Clip", [x, b.Constant("min", [], 0f), b.Constant("max", [], 6f)]);

    static string HardSwish(GraphBuilder b, string x) => b.Add("HardSwish", [x]);

    static string SiLU(GraphBuilder b, string x) => b.Add("Mul", [x, b.Add("Sigmoid", [x])]);

    static string SqueezeExcite(GraphBuilder b, string x, int squeezed, Func<string, string> pool, Func<string, string> act, Func<string, string> gate)
    {
        var channels = (int)b.ShapeOf(x)[1].Value;
        var s = gate(Conv(b, act(Conv(b, pool(x), squeezed, kernel: 1)), channels, kernel: 1));
        return b.Add("Mul", [x, s]);
    }

    static string SpatialMean(GraphBuilder b, string x) => b.Add("ReduceMean", [x], ("axes", NodeAttribute.Of([2L, 3L])), ("keepdims", NodeAttribute.Of(1L)));

    static string HardSigmoid(GraphBuilder b, string x) => b.Add("HardSigmoid", [x], ("alpha", NodeAttribute.Of(1f / 6)), ("beta", NodeAttribute.Of(0.5f)));

    static string Int64s(GraphBuilder b, params long[] values)
    {
        var name = $"shape_{b.Graph.Initializers.Count}";
        b.Graph.AddInitializer(Tensor.FromInt64s(name, [values.Length], values));
        return name;
    }
}

using ModelBuildTasks.Graph;

namespace ModelBuildTasks.Samples.Trainer;

/// <summary>The three sample families, shaped like the paper's VGG, ResNet and DenseNet, sized for 28x28 grey images.</summary>
static class Architectures
{
    public static OnnxModel Build(string family, int seed) => family switch
    {
        "vgg" => Vgg(seed),
        "resnet" => ResNet(seed),
        "densenet" => DenseNet(seed),
        _ => throw new ArgumentException($"unknown family '{family}' (vgg, resnet, densenet)"),
    };

    // conv-BN-ReLU x2 per stage, three stages, then an over-parameterised classifier (~1M parameters, as the paper's VGG).
    static OnnxModel Vgg(int seed)
    {
        var b = new GraphBuilder("fashion_vgg", seed);
        var x = b.Input("input", 1, 28, 28);
        foreach (var width in new[] { 32, 64, 128 })
        {
            x = b.Relu(b.BatchNorm(b.Conv(x, width, bias: false)));
            x = b.Relu(b.BatchNorm(b.Conv(x, width, bias: false)));
            x = b.MaxPool(x, 2);
        }
        x = b.Dropout(b.Relu(b.Linear(b.Flatten(x), 600)), 0.5f);
        b.Output(b.Linear(x, 10), "logits");
        return b.Build();
    }

    // A stem and one basic block per stage (two 3x3 conv-BN, residual Add; 1x1 projection when the shape changes).
    static OnnxModel ResNet(int seed)
    {
        var b = new GraphBuilder("fashion_resnet", seed);
        var x = b.Relu(b.BatchNorm(b.Conv(b.Input("input", 1, 28, 28), 24, bias: false)));
        foreach (var (width, stride) in new[] { (24, 1), (48, 2), (96, 2) })
        {
            var y = b.Relu(b.BatchNorm(b.Conv(x, width, stride: stride, bias: false)));
            y = b.BatchNorm(b.Conv(y, width, bias: false));
            var shortcut = stride == 1 && b.ShapeOf(x)[1].Value == width ? x : b.BatchNorm(b.Conv(x, width, kernel: 1, stride: stride, pad: 0, bias: false));
            x = b.Relu(b.Sum(y, shortcut));
        }
        b.Output(b.Linear(b.Flatten(b.GlobalAveragePool(x)), 10), "logits");
        return b.Build();
    }

    // Three dense blocks (BN-ReLU-conv3x3, growth 12, Concat) joined by BN-ReLU-conv1x1-avgpool transitions.
    static OnnxModel DenseNet(int seed)
    {
        const int growth = 12;
        var b = new GraphBuilder("fashion_densenet", seed);
        var x = b.Conv(b.Input("input", 1, 28, 28), 24, bias: false);
        for (var block = 0; block < 3; block++)
        {
            for (var layer = 0; layer < 4; layer++)
                x = b.Concat(x, b.Conv(b.Relu(b.BatchNorm(x)), growth, bias: false));
            if (block < 2)
            {
                var half = (int)b.ShapeOf(x)[1].Value / 2;
                x = b.AveragePool(b.Conv(b.Relu(b.BatchNorm(x)), half, kernel: 1, pad: 0, bias: false), 2);
            }
        }
        x = b.GlobalAveragePool(b.Relu(b.BatchNorm(x)));
        b.Output(b.Linear(b.Flatten(x), 10), "logits");
        return b.Build();
    }
}

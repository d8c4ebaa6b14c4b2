using ModelBuildTasks.Graph;

namespace ModelBuildTasks.Tests;

/// <summary>Small models the tests build themselves: one per CNN family shape.</summary>
static class TestModels
{
    /// <summary>conv-bn-relu-pool x2, then a linear classifier (a tiny VGG).</summary>
    public static OnnxModel Plain(int seed = 1, int channels = 1, int size = 28)
    {
        var b = new GraphBuilder("plain", seed);
        var x = b.Input("input", channels, size, size);
        x = b.MaxPool(b.Relu(b.BatchNorm(b.Conv(x, 8, bias: false))), 2);
        x = b.MaxPool(b.Relu(b.BatchNorm(b.Conv(x, 16, bias: false))), 2);
        b.Output(b.Linear(b.Flatten(b.GlobalAveragePool(x)), 10), "logits");
        return RandomizeBatchNorm(b.Build(), seed);
    }

    /// <summary>As <see cref="Plain"/>, its ten outputs made by a Sigmoid: one probability per class, as multi-label models give.</summary>
    public static OnnxModel EndingInSigmoid(int seed = 1)
    {
        var b = new GraphBuilder("sigmoid", seed);
        var x = b.Input("input", 1, 28, 28);
        x = b.MaxPool(b.Relu(b.BatchNorm(b.Conv(x, 8, bias: false))), 2);
        x = b.MaxPool(b.Relu(b.BatchNorm(b.Conv(x, 16, bias: false))), 2);
        b.Output(b.Add("Sigmoid", [b.Linear(b.Flatten(b.GlobalAveragePool(x)), 10)]), "scores");
        return RandomizeBatchNorm(b.Build(), seed);
    }

    /// <summary>conv-bn-relu x2 and global pooling, no classifier: an embedding of [N, 16, 1, 1], as feature extractors output.</summary>
    public static OnnxModel FeatureExtractor(int seed = 4)
    {
        var b = new GraphBuilder("features", seed);
        var x = b.MaxPool(b.Relu(b.BatchNorm(b.Conv(b.Input("input", 1, 28, 28), 8, bias: false))), 2);
        x = b.Relu(b.BatchNorm(b.Conv(x, 16, bias: false)));
        b.Output(b.GlobalAveragePool(x), "features");
        return RandomizeBatchNorm(b.Build(), seed);
    }

    /// <summary>A residual block with an Add (a tiny ResNet).</summary>
    public static OnnxModel Residual(int seed = 2)
    {
        var b = new GraphBuilder("residual", seed);
        var x = b.Relu(b.BatchNorm(b.Conv(b.Input("input", 1, 28, 28), 8, bias: false)));
        var y = b.BatchNorm(b.Conv(b.Relu(b.BatchNorm(b.Conv(x, 8, bias: false))), 8, bias: false));
        x = b.Relu(b.Sum(x, y));
        b.Output(b.Linear(b.Flatten(b.GlobalAveragePool(x)), 10), "logits");
        return RandomizeBatchNorm(b.Build(), seed);
    }

    /// <summary>A dense block with Concat (a tiny DenseNet).</summary>
    public static OnnxModel Dense(int seed = 3)
    {
        var b = new GraphBuilder("dense", seed);
        var x = b.Conv(b.Input("input", 1, 28, 28), 8);
        var y = b.Conv(b.Relu(b.BatchNorm(x)), 4, bias: false);
        x = b.Concat(x, y);
        y = b.Conv(b.Relu(b.BatchNorm(x)), 4, bias: false);
        x = b.AveragePool(b.Concat(x, y), 2);
        b.Output(b.Linear(b.Flatten(b.GlobalAveragePool(b.Relu(b.BatchNorm(x)))), 10), "logits");
        return RandomizeBatchNorm(b.Build(), seed);
    }

    /// <summary>Gives every BatchNorm non-trivial statistics so folding and equivalence tests mean something.</summary>
    public static OnnxModel RandomizeBatchNorm(OnnxModel model, int seed)
    {
        var random = new Random(seed);
        foreach (var bn in model.Graph.Nodes.Where(n => n.OpType == "BatchNormalization"))
        {
            var scale = model.Graph.Initializers[bn.Inputs[1]].Floats;
            var bias = model.Graph.Initializers[bn.Inputs[2]].Floats;
            var mean = model.Graph.Initializers[bn.Inputs[3]].Floats;
            var variance = model.Graph.Initializers[bn.Inputs[4]].Floats;
            for (var c = 0; c < scale.Length; c++)
            {
                scale[c] = 0.5f + (float)random.NextDouble();
                bias[c] = (float)random.NextDouble() - 0.5f;
                mean[c] = (float)random.NextDouble() * 0.2f - 0.1f;
                variance[c] = 0.5f + (float)random.NextDouble();
            }
        }
        return model;
    }

    /// <summary>Seeded random input of the given shape.</summary>
    public static float[] RandomInput(int seed, params long[] shape)
    {
        var random = new Random(seed);
        var values = new float[shape.Aggregate(1L, (n, d) => n * d)];
        for (var i = 0; i < values.Length; i++) values[i] = (float)random.NextDouble();
        return values;
    }
}

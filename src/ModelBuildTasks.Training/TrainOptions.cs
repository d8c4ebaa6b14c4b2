namespace ModelBuildTasks.Training;

/// <summary>The optimizer used for training.</summary>
public enum OptimizerKind
{
    /// <summary>Adam.</summary>
    Adam,
    /// <summary>SGD with (Nesterov) momentum.</summary>
    Sgd,
}

/// <summary>How the learning rate changes over the run.</summary>
public enum LearningRateSchedule
{
    /// <summary>Fixed.</summary>
    Constant,
    /// <summary>Cosine decay from the initial rate to zero over the budget.</summary>
    Cosine,
    /// <summary>Divided by 10 at 50% and 75% of the budget.</summary>
    Step,
}

/// <summary>Settings of one training or fine-tuning run.</summary>
public sealed record TrainOptions
{
    /// <summary>Epochs to run (the budget, with <see cref="Seconds"/>).</summary>
    public int Epochs { get; init; } = 1;
    /// <summary>Optional wall-clock budget; the run stops after the batch that crosses it.</summary>
    public double? Seconds { get; init; }
    /// <summary>Images per batch.</summary>
    public int BatchSize { get; init; } = 128;
    /// <summary>The optimizer.</summary>
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.Adam;
    /// <summary>The initial learning rate.</summary>
    public double LearningRate { get; init; } = 1e-3;
    /// <summary>The learning-rate schedule.</summary>
    public LearningRateSchedule Schedule { get; init; } = LearningRateSchedule.Cosine;
    /// <summary>L2 weight decay.</summary>
    public double WeightDecay { get; init; }
    /// <summary>Momentum for SGD.</summary>
    public double Momentum { get; init; } = 0.9;
    /// <summary>Seed for initialisation-independent randomness: batch order, dropout, augmentation.</summary>
    public int Seed { get; init; } = 1;
    /// <summary>libtorch intra-op threads; 0 = one per core.</summary>
    public int Threads { get; init; }
    /// <summary>Randomly mirror images left-right (a label-preserving augmentation for most image sets).</summary>
    public bool HorizontalFlip { get; init; }
    /// <summary>Quantization-aware training: weights of Conv/Gemm/MatMul run through their <c>b</c>-bit per-channel grid in the forward pass (straight-through gradients); null for plain float training.</summary>
    public int? FakeQuantBits { get; init; }
    /// <summary>With <see cref="FakeQuantBits"/>: weights (by initializer name) that train through a narrower grid of their own (per-layer precision).</summary>
    public IReadOnlyDictionary<string, int> LayerBits { get; init; } = new Dictionary<string, int>();
    /// <summary>With <see cref="FakeQuantBits"/>: weights (by initializer name) that quantization keeps float, which train without the grid.</summary>
    public IReadOnlySet<string> FloatLayers { get; init; } = new HashSet<string>();
}

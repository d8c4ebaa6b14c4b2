namespace ModelBuildTasks.Passes.Quantization;

/// <summary>Settings of integer quantization.</summary>
public sealed record QuantizationOptions
{
    /// <summary>Weight bits, <see cref="PortableGrid.MaxBits"/> (7) down to 2 (stored in int8; fewer bits give fewer distinct levels, which entropy coding turns into fewer bytes).</summary>
    public int Bits { get; init; } = PortableGrid.MaxBits;
    /// <summary>
    /// Per-layer precision: weights (by initializer name) rounded onto a narrower grid than <see cref="Bits"/>, 2 bits
    /// at the least (<see cref="LayerNarrowing"/>). A layer not listed uses <see cref="Bits"/>.
    /// </summary>
    public IReadOnlyDictionary<string, int> LayerBits { get; init; } = new Dictionary<string, int>();
    /// <summary>The bits of the layer whose weights are <paramref name="weights"/>.</summary>
    public int BitsOf(string weights) => LayerBits.TryGetValue(weights, out var bits) ? bits : Bits;
    /// <summary>How activation ranges are chosen.</summary>
    public CalibrationMethod Calibration { get; init; } = CalibrationMethod.MinMax;
    /// <summary>The percentile for <see cref="CalibrationMethod.Percentile"/>.</summary>
    public double Percentile { get; init; } = 99.99;
    /// <summary>Deep compression: the fraction of Conv/Gemm/MatMul weights pruned by magnitude before quantizing (0 = none).</summary>
    public double PruneRatio { get; init; }
    /// <summary>Where the pruning threshold is taken.</summary>
    public Pruning.PruningScope PruningScope { get; init; } = Pruning.PruningScope.PerLayer;
    /// <summary>Deep compression: share each layer's nonzero int8 weights among at most this many levels (0 = no sharing).</summary>
    public int SharedLevels { get; init; }
    /// <summary>Round and prune with error compensation (<see cref="ErrorCompensation"/>) instead of to the nearest level independently.</summary>
    public bool ErrorCompensation { get; init; }
    /// <summary>Weights (by initializer name) whose layers stay float: neither their weights nor, on their account, their inputs are quantized (<see cref="LayerSensitivity"/>).</summary>
    public IReadOnlySet<string> KeepFloat { get; init; } = new HashSet<string>();
    /// <summary>
    /// Add zero channels where ONNX Runtime's fast int8 convolutions need them (<see cref="Passes.ChannelPadding"/>): the
    /// same predictions, faster. Off where the quantized model's tensors are compared channel by channel with the float
    /// model's (<see cref="LayerSensitivity"/>).
    /// </summary>
    public bool PadChannels { get; init; } = true;
    /// <summary>At most this many calibration images are used (at most 64 of images over 100,000 values).</summary>
    public int MaxCalibrationImages { get; init; } = 512;
}

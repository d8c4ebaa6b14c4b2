namespace ModelBuildTasks.Passes.Quantization;

/// <summary>How activation ranges are chosen from the calibration data.</summary>
public enum CalibrationMethod
{
    /// <summary>The observed minimum and maximum.</summary>
    MinMax,
    /// <summary>A high percentile of the magnitudes (default 99.99%), ignoring rare outliers.</summary>
    Percentile,
}

/// <summary>A calibrated activation range; always contains 0 so that 0 is exactly representable.</summary>
/// <param name="Min">Lower bound (&lt;= 0).</param>
/// <param name="Max">Upper bound (&gt;= 0).</param>
public readonly record struct ActivationRange(float Min, float Max);

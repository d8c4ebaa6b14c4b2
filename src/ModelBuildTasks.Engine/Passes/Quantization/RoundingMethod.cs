namespace ModelBuildTasks.Passes.Quantization;

/// <summary>How post-training IQ rounds weights (and DC prunes them).</summary>
public enum RoundingMethod
{
    /// <summary>Each weight to its nearest level, each pruned weight to zero, independently.</summary>
    Nearest,
    /// <summary>Column by column, each error spread over the weights not yet rounded (<see cref="ErrorCompensation"/>).</summary>
    Compensated,
}

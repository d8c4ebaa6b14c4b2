namespace ModelBuildTasks.Compression;

/// <summary>How the ratio of each method is chosen.</summary>
public enum SearchKind
{
    /// <summary>The margin search: stage by stage, steps driven by accuracy minus target (see docs/method.md).</summary>
    Margin,
    /// <summary>Brute force: every point of bits x NS ratio x DC ratio at the resolution; the smallest model meeting the target wins.</summary>
    Grid,
    /// <summary>No search: the bits and ratios given.</summary>
    Fixed,
}

namespace ModelBuildTasks.Progress;

/// <summary>
/// One step of a long-running engine operation. The engine reports through
/// <see cref="IProgress{T}"/> of this type; the CLI draws it as a bar or plain lines, the MSBuild
/// task shows the CLI's lines as log messages.
/// </summary>
/// <param name="Stage">What is running, e.g. <c>evaluate</c>, or a search stage such as <c>iq</c>.</param>
/// <param name="Done">Units done so far.</param>
/// <param name="Total">Units in all (0 when unknown).</param>
/// <param name="Unit">What is counted, e.g. <c>images</c>.</param>
public sealed record ProgressUpdate(string Stage, long Done, long Total, string Unit = "")
{
    /// <summary>The knobs of the candidate being evaluated (e.g. <c>bits=6 ns=0.2</c>), when a candidate is.</summary>
    public string? Detail { get; init; }

    /// <summary>The score (accuracy, agreement or cosine) of the last candidate evaluated, when there is one: how the search is faring.</summary>
    public double? Accuracy { get; init; }

    /// <summary>Whether <see cref="Total"/> is an estimate (a search stops when its bracket closes, not at a fixed count).</summary>
    public bool TotalIsEstimate { get; init; }
}

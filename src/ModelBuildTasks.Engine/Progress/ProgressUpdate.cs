namespace ModelBuildTasks.Progress;

/// <summary>
/// One step of a long-running engine operation. The engine reports through
/// <see cref="IProgress{T}"/> of this type; the CLI draws it as a bar or plain lines, the MSBuild
/// task as log messages.
/// </summary>
/// <param name="Stage">What is running, e.g. <c>evaluate</c>.</param>
/// <param name="Done">Units done so far.</param>
/// <param name="Total">Units in all (0 when unknown).</param>
/// <param name="Unit">What is counted, e.g. <c>images</c>.</param>
public sealed record ProgressUpdate(string Stage, long Done, long Total, string Unit = "");

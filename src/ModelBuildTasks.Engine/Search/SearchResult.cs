using ModelBuildTasks.Compression;

namespace ModelBuildTasks.Search;

/// <summary>One stage of a search, for the report's per-stage table.</summary>
/// <param name="Method">The method whose knob was searched (or <c>grid</c> / <c>fixed</c>).</param>
/// <param name="Target">The accuracy this stage had to keep (the final target plus the reserve for later stages).</param>
/// <param name="Chosen">The knob chosen, as text (e.g. <c>bits=6</c>), or <c>off</c>.</param>
/// <param name="Evaluations">Candidates this stage evaluated.</param>
/// <param name="Accuracy">Validation score after the stage.</param>
/// <param name="Bound">Its lower confidence bound, which the stage's target was checked against.</param>
/// <param name="Bytes">Container bytes after the stage.</param>
public sealed record StageSummary(string Method, double Target, string Chosen, int Evaluations, double Accuracy, double Bound, long Bytes);

/// <summary>What a search chose.</summary>
/// <param name="Best">The chosen candidate (meets the target when any evaluated candidate does).</param>
/// <param name="Stages">One row per stage.</param>
public sealed record SearchResult(Candidate Best, IReadOnlyList<StageSummary> Stages);

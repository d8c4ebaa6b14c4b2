using ModelBuildTasks.Compression;

namespace ModelBuildTasks.Search;

/// <summary>
/// The brute-force baseline: every point of bits x NS ratio x DC ratio at the search resolution is
/// evaluated (intermediate models are reused, evaluations are not skipped) and the smallest
/// container meeting the target wins; when none does, the most accurate one.
/// </summary>
public static class GridSearch
{
    /// <summary>Evaluates the whole grid of <paramref name="space"/> over <paramref name="methods"/>.</summary>
    public static SearchResult Run(CandidateEvaluator evaluator, SearchSpace space, IReadOnlyList<string> methods, double target)
    {
        var all = space.Grid(methods).Select(p => evaluator.Evaluate(p, "grid")).ToList();
        var passing = all.Where(c => c.Bound >= target).ToList();
        var best = passing.Count > 0 ? passing.MinBy(c => c.Bytes)! : all.MaxBy(c => c.Bound)!;
        var chosen = string.Join(" ", best.Point.Knobs().Select(kv => $"{kv.Key}={kv.Value}"));
        return new SearchResult(best, [new StageSummary("grid", target, chosen, all.Count, best.Accuracy, best.Bound, best.Bytes)]);
    }
}

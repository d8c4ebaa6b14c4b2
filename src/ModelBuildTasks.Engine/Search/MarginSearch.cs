using ModelBuildTasks.Compression;

namespace ModelBuildTasks.Search;

/// <summary>
/// The paper's autonomous search: one stage per method, in the order given (IQ, NS, DC by
/// default). Each stage moves its knob with <see cref="KnobSearch"/> on the margin (accuracy minus
/// the stage's target) and fixes it before the next stage starts. A stage may spend only an equal
/// share of the margin left: with k stages to go, it must keep (k - 1) / k of the current margin in
/// reserve. The last stage spends the rest. Margins are taken on each candidate's lower confidence
/// bound (<see cref="Candidate.Bound"/>), never on the point estimate alone. When no bit width keeps
/// IQ's target, the fewest costliest layers are kept float instead (<see cref="ChainPoint.FloatLayers"/>); when
/// one does, what IQ's share of the margin has left is spent on narrower grids for the layers that cost least
/// (<see cref="ChainPoint.NarrowSteps"/>).
/// See docs/method.md.
/// </summary>
public static class MarginSearch
{
    /// <summary>Runs the stages from <paramref name="baselineAccuracy"/> (the float model) down to <paramref name="target"/>.</summary>
    /// <param name="evaluator">Builds and measures candidates.</param>
    /// <param name="space">The knobs' values.</param>
    /// <param name="methods">The stages, in order.</param>
    /// <param name="baselineAccuracy">The float model's validation accuracy.</param>
    /// <param name="target">The accuracy the result must keep.</param>
    /// <param name="budget">At most this many evaluations in all (each stage still gets one).</param>
    /// <param name="fineTuned">Whether candidates are fine-tuned (the first guesses go further).</param>
    public static SearchResult Run(CandidateEvaluator evaluator, SearchSpace space, IReadOnlyList<string> methods, double baselineAccuracy, double target, int budget, bool fineTuned = false)
    {
        var point = new ChainPoint(null, 0, null);
        var accuracy = baselineAccuracy;
        var stages = new List<StageSummary>();
        Candidate? current = null;
        for (var k = 0; k < methods.Count; k++)
        {
            var method = methods[k];
            var left = methods.Count - k;
            var reserve = Math.Max(0, accuracy - target) * (left - 1) / left;
            var stageTarget = target + reserve;
            var before = evaluator.Evaluated.Count;
            var stagePoint = point;
            // NS's and DC's position 0 (ratio 0) is the model the stage starts from: the candidate already measured, not
            // a copy with "dc_ratio=0" measured again and reported as applied.
            var result = KnobSearch.Find(space.Count(method),
                i => evaluator.Evaluate(i == 0 && method != "iq" ? stagePoint : space.With(stagePoint, method, i), method, failBelow: stageTarget).Bound - stageTarget,
                start: Start(space, method, fineTuned),
                anchor: (method == "iq" ? -1 : 0, accuracy - stageTarget), // IQ's position 0 is the widest grid; the float model sits before it
                budget: Math.Max(1, budget - evaluator.Evaluated.Count));
            var found = method == "iq" ? result.Best >= 0 : result.Best > 0;
            if (found)
            {
                point = space.With(point, method, result.Best);
                if (method == "iq") point = Narrow(evaluator, point, result, stageTarget, budget);
                current = evaluator.Evaluate(point, method);
                accuracy = current.Bound;
            }
            else if (method == "iq")
            {
                // No uniform grid keeps the reserve. While the widest grid still meets the final target, it stays (later
                // stages build on it and spend what is left). When even it misses, the costliest layers stay float, as
                // few as meet the final target: each costs its bytes and its integer kernel, and a reserve for the later
                // stages bought with float layers cost more than those stages saved (the ResNet-18 classifier kept 16 of
                // 21 layers float for it). If none do, the widest grid alone.
                var widest = space.With(point, method, 0);
                var fallback = evaluator.Evaluate(widest, method, failBelow: target).Bound >= target ? null : FloatFallback(evaluator, widest, target, accuracy, budget);
                point = fallback ?? widest;
                current = evaluator.Evaluate(point, method);
                accuracy = current.Bound;
                found = true; // applied either way: the report names it, never "off"
                stageTarget = target; // IQ's reserve could not be kept; the stage was held to the final target
            }
            // DC's weight sharing is a yes/no on top of the pruning ratio: one more evaluation, kept if the margin allows.
            if (method == "dc" && space.Shares(point.Bits) && evaluator.Evaluated.Count < budget)
            {
                var shared = evaluator.Evaluate(point with { DcRatio = point.DcRatio ?? 0, SharedLevels = space.SharedLevels }, method, failBelow: stageTarget);
                if (shared.Bound >= stageTarget && (current is null || shared.Bytes < current.Bytes))
                    (point, current, accuracy) = (shared.Point, shared, shared.Bound);
            }
            var chosen = found || point.SharedLevels > 0 && method == "dc" ? Describe(point, method) : "off";
            // The ratio kept removed no channel (each layer keeps a minimum; a larger ratio that would remove some missed the target).
            if (method == "ns" && current is not null && evaluator.SlimmedNothing(current.Slimming)) chosen = $"off ({Describe(point, method)} removed no channel)";
            stages.Add(new StageSummary(method, Math.Round(stageTarget, 6), chosen, evaluator.Evaluated.Count - before, current?.Accuracy ?? accuracy, current?.Bound ?? accuracy, current?.Bytes ?? 0));
        }
        (point, accuracy) = SpendTheReserves(evaluator, space, methods, point, accuracy, target, budget, stages);
        var final = evaluator.Evaluate(point, "final");
        return new SearchResult(final, stages);
    }

    // Each stage kept (k - 1) / k of the margin for the k - 1 after it, and what they could not spend (DC's next ratio fell
    // off a cliff, or its knob ran out) is left over at the end. It goes back to the ratio stages before the last, in
    // order: each searches on from its choice up to the final target, the later stages' choices held. Network slimming is
    // the one that gains most from it: its channels are the only ones that also make the model faster.
    static (ChainPoint Point, double Accuracy) SpendTheReserves(CandidateEvaluator evaluator, SearchSpace space, IReadOnlyList<string> methods,
        ChainPoint point, double accuracy, double target, int budget, List<StageSummary> stages)
    {
        foreach (var method in methods.Take(methods.Count - 1).Where(m => m != "iq"))
        {
            var from = space.PositionOf(point, method);
            var above = space.Count(method) - 1 - from;
            if (accuracy <= target || above <= 0 || evaluator.Evaluated.Count >= budget) continue;
            var before = evaluator.Evaluated.Count;
            var held = point;
            var result = KnobSearch.Find(above,
                i => evaluator.Evaluate(space.With(held, method, from + 1 + i), method, failBelow: target).Bound - target,
                start: 0, anchor: (-1, accuracy - target), budget: Math.Max(1, budget - evaluator.Evaluated.Count));
            if (result.Best >= 0) point = space.With(point, method, from + 1 + result.Best);
            var current = evaluator.Evaluate(point, method); // measured already: the search's pass, or the point it started from
            accuracy = current.Bound;
            stages.Add(new StageSummary(method + " again", Math.Round(target, 6), result.Best >= 0 ? Describe(point, method) : "unchanged",
                evaluator.Evaluated.Count - before, current.Accuracy, current.Bound, current.Bytes));
        }
        return (point, accuracy);
    }

    static string Describe(ChainPoint point, string method) => method switch
    {
        "iq" => $"bits={point.Bits}" + (point.FloatLayers > 0 ? $" float_layers={point.FloatLayers}" : "") + (point.NarrowSteps > 0 ? $" narrow_steps={point.NarrowSteps}" : ""),
        "ns" => $"ns_ratio={ChainPoint.Ratio(point.NsRatio)}",
        _ => $"dc_ratio={ChainPoint.Ratio(point.DcRatio ?? 0)}" + (point.SharedLevels > 0 ? $" levels={point.SharedLevels}" : ""), // as candidates say it: "shared_levels=16" wrapped in the CLI's stage table
    };

    // Position i of the fallback leaves (layers - i) of the costliest layers float: 0 is all of them, the last is
    // one. The knob search then finds the fewest that keep the stage's target, from one up.
    static ChainPoint? FloatFallback(CandidateEvaluator evaluator, ChainPoint widest, double target, double floatAccuracy, int budget)
    {
        var layers = evaluator.Chain.SensitiveLayers.Count;
        if (layers == 0 || evaluator.Evaluated.Count >= budget) return null;
        var result = KnobSearch.Find(layers, i => evaluator.Evaluate(widest with { FloatLayers = layers - i }, "iq", failBelow: target).Bound - target,
            start: layers - 1, anchor: (-1, floatAccuracy - target), budget: Math.Max(1, budget - evaluator.Evaluated.Count));
        return result.Best >= 0 ? widest with { FloatLayers = layers - result.Best } : null;
    }

    // Per-layer precision: IQ's share of the margin that the uniform grid left is spent on layers, in LayerNarrowing's
    // order (cheapest error per weight first), and the knob search finds how many steps of it keep the stage's target.
    // The first guess comes from the margins: if the next narrower uniform grid was measured, the steps whose
    // measured cost adds up to the share m / (m - m') of that grid's cost, where m and m' are the two grids' margins;
    // otherwise half of it. With fine-tuning, the later stages train through each layer's own grid.
    const int NarrowingBudget = 6;

    static ChainPoint Narrow(CandidateEvaluator evaluator, ChainPoint point, KnobResult uniform, double stageTarget, int budget)
    {
        var order = evaluator.Chain.NarrowingOrder(point.Bits!.Value);
        if (order.Count == 0 || evaluator.Evaluated.Count >= budget) return point;
        var margin = evaluator.Evaluate(point, "iq").Bound - stageTarget;
        var share = uniform.Probes.FirstOrDefault(p => p.Index == uniform.Best + 1) is { Margin: var narrower } && margin > narrower
            ? margin / (margin - narrower)
            : 0.5;
        var oneBitEach = order.Where(s => s.Bits == point.Bits - 1).Sum(s => Math.Max(0, s.Cost));
        var (start, spent) = (0, 0.0);
        while (start < order.Count && spent + Math.Max(0, order[start].Cost) <= share * oneBitEach) spent += Math.Max(0, order[start++].Cost);
        var result = KnobSearch.Find(order.Count + 1,
            i => evaluator.Evaluate(point with { NarrowSteps = i }, "iq", failBelow: stageTarget).Bound - stageTarget,
            start: Math.Max(1, start), anchor: (0, margin), budget: Math.Max(1, Math.Min(NarrowingBudget, budget - evaluator.Evaluated.Count)));
        if (result.Best <= 0) return point;
        var narrowed = point with { NarrowSteps = result.Best };
        return evaluator.Evaluate(narrowed, "iq").Bytes <= (1 - MinNarrowingSaving) * evaluator.Evaluate(point, "iq").Bytes ? narrowed : point;
    }

    // Narrower layers that save less than this fraction of the uniform grid's bytes are not worth their margin, which
    // the later stages can spend better (the ResNet sample's classifier at 2 bits saved 0.4%).
    const double MinNarrowingSaving = 0.05;

    // First guesses: the widest grid (cheap to confirm); a fifth of the channels and half of the weights, or
    // with fine-tuning, which recovers much more, 30% and 70% (Liu et al. and Han et al. report far more).
    static int Start(SearchSpace space, string method, bool fineTuned) => method switch
    {
        "iq" => 0,
        "ns" => space.IndexOf("ns", fineTuned ? 0.3 : 0.2),
        _ => space.IndexOf("dc", fineTuned ? 0.7 : 0.5),
    };
}

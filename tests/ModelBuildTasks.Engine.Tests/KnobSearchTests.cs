using ModelBuildTasks.Search;

namespace ModelBuildTasks.Engine.Tests;

public class KnobSearchTests
{
    // Accuracy curves over 100 knob positions (ratio 0..0.99 at 1%), falling slowly then fast, as pruning does.
    public static TheoryData<string, double> Curves => new()
    {
        { "knee", 0.90 },
        { "knee", 0.93 },
        { "knee", 0.70 },
        { "linear", 0.80 },
        { "cliff", 0.91 },
        { "flat-then-drop", 0.85 },
    };

    static double Accuracy(string curve, int i) => curve switch
    {
        "knee" => 0.94 - 0.05 * Math.Pow(i / 99.0, 4) * 6,
        "linear" => 0.94 - 0.3 * i / 99.0,
        "cliff" => i < 63 ? 0.94 - 0.0002 * i : 0.5,
        _ => i < 80 ? 0.94 : 0.94 - 0.02 * (i - 79),
    };

    [Theory]
    [MemberData(nameof(Curves))]
    public void FindsTheBoundary_WithinTheResolution_InFewEvaluations(string curve, double target)
    {
        var truth = Enumerable.Range(0, 100).Last(i => Accuracy(curve, i) >= target);
        var evaluated = new List<int>();
        var result = KnobSearch.Find(100, i => { evaluated.Add(i); return Accuracy(curve, i) - target; }, start: 50, anchor: (0, Accuracy(curve, 0) - target), budget: 40);
        Assert.Equal(truth, result.Best);
        Assert.False(result.BudgetSpent);
        Assert.Equal(evaluated.Count, evaluated.Distinct().Count()); // never the same point twice
        Assert.True(evaluated.Count <= 12, $"{curve}: {evaluated.Count} evaluations ({string.Join(", ", evaluated)}) for a boundary at {truth}");
    }

    [Fact]
    public void NeverReturnsAPointBelowTarget_EvenOnANoisyCurve()
    {
        var noise = new Random(5);
        var values = Enumerable.Range(0, 100).Select(i => 0.94 - 0.002 * i + (noise.NextDouble() - 0.5) * 0.01).ToArray();
        for (var start = 0; start < 100; start += 7)
        {
            var result = KnobSearch.Find(100, i => values[i] - 0.85, start, anchor: (0, 0.09), budget: 40);
            Assert.True(result.Best >= 0);
            Assert.True(values[result.Best] >= 0.85, $"start {start}: returned {result.Best} at {values[result.Best]:P2}");
            Assert.Contains(result.Probes, p => p.Index == result.Best && p.Margin >= 0); // a measured pass, not an interpolation
        }
    }

    [Fact]
    public void WhenNothingPasses_ItSaysSo_AndWhenEverythingPasses_ItTakesTheLastValue()
    {
        var none = KnobSearch.Find(20, _ => -0.01, start: 10, anchor: null, budget: 40);
        Assert.Equal(-1, none.Best);
        Assert.Contains(none.Probes, p => p.Index == 0); // it backed off all the way before giving up
        var all = KnobSearch.Find(20, _ => 0.02, start: 3, anchor: (0, 0.02), budget: 40);
        Assert.Equal(19, all.Best);
        Assert.True(all.Probes.Count <= 6, $"{all.Probes.Count} evaluations to stride to the end");
    }

    [Fact]
    public void TheBudgetIsABound()
    {
        var calls = 0;
        var result = KnobSearch.Find(1000, i => { calls++; return 0.5 - i / 999.0; }, start: 0, anchor: null, budget: 3);
        Assert.Equal(3, calls);
        Assert.True(result.BudgetSpent);
        Assert.True(result.Best is >= 0 and < 500); // the best pass seen so far
    }
}

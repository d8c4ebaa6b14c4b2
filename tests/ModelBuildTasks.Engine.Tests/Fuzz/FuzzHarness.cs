using System.Diagnostics;
using Xunit.Abstractions;

namespace ModelBuildTasks.Engine.Tests.Fuzz;

/// <summary>The fuzz suite runs alone, so the process-wide allocation counter measures one case at a time.</summary>
[CollectionDefinition(nameof(FuzzCollection), DisableParallelization = true)]
public sealed class FuzzCollection;

/// <summary>
/// Runs seeded cases and checks each ends in a clean outcome (a valid result, or one of the documented
/// exception types), within the time and memory bounds of docs/format.md ("Fuzzing"). The number of
/// cases per input kind is <see cref="DefaultCases"/> in CI, or MBT_FUZZ_CASES (the long mode for benchmarks).
/// </summary>
static class FuzzHarness
{
    /// <summary>Cases per input kind in CI (seconds in all).</summary>
    public const int DefaultCases = 2000;

    /// <summary>No case may take longer.</summary>
    public static readonly TimeSpan MaxCaseTime = TimeSpan.FromSeconds(5);

    /// <summary>No case may allocate more managed memory (an upper bound on its peak heap growth).</summary>
    public const long MaxCaseAllocation = 64L << 20;

    public static int Cases => int.TryParse(Environment.GetEnvironmentVariable("MBT_FUZZ_CASES"), out var n) && n > 0 ? n : DefaultCases;

    public static int Seed => int.TryParse(Environment.GetEnvironmentVariable("MBT_FUZZ_SEED"), out var s) ? s : 12;

    /// <summary>Runs <paramref name="run"/> on <see cref="Cases"/> seeded inputs; an exception of another type than <paramref name="clean"/> fails with the case's seed.</summary>
    public static void Run(ITestOutputHelper output, string kind, Func<Mutator, object?> run, params Type[] clean)
    {
        var watch = Stopwatch.StartNew();
        long maxAllocated = 0;
        var maxTime = TimeSpan.Zero;
        int valid = 0, rejected = 0;
        var outcomes = new Dictionary<string, int>();
        for (var i = 0; i < Cases; i++)
        {
            var seed = Seed * 1_000_003 + i;
            var mutator = new Mutator(seed);
            var before = GC.GetTotalAllocatedBytes(precise: true);
            var started = watch.Elapsed;
            try
            {
                run(mutator);
                valid++;
            }
            catch (Exception e) when (clean.Any(t => t.IsInstanceOfType(e)))
            {
                rejected++;
                var code = e is ModelBuildException m ? m.Code : e.GetType().Name;
                outcomes[code] = outcomes.GetValueOrDefault(code) + 1;
            }
            catch (Exception e)
            {
                Assert.Fail($"{kind} case {i} (seed {seed}) ended in {e.GetType().Name}: {e.Message}\n{e.StackTrace}");
            }
            var took = watch.Elapsed - started;
            var allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
            maxTime = took > maxTime ? took : maxTime;
            maxAllocated = Math.Max(maxAllocated, allocated);
            Assert.True(took < MaxCaseTime, $"{kind} case {i} (seed {seed}) took {took.TotalSeconds:0.0} s");
            Assert.True(allocated <= MaxCaseAllocation, $"{kind} case {i} (seed {seed}) allocated {allocated / 1048576.0:0.0} MiB");
        }
        output.WriteLine($"fuzz {kind}: {Cases} cases in {watch.Elapsed.TotalSeconds:0.0} s; {valid} valid, {rejected} rejected " +
            $"({string.Join(", ", outcomes.OrderByDescending(kv => kv.Value).Select(kv => $"{kv.Key} {kv.Value}"))}); " +
            $"slowest {maxTime.TotalMilliseconds:0} ms, most allocated {maxAllocated / 1048576.0:0.0} MiB, process peak working set {Process.GetCurrentProcess().PeakWorkingSet64 / 1048576} MiB");
        Console.WriteLine($"fuzz {kind}: {Cases} cases, {watch.Elapsed.TotalSeconds:0.0} s, most allocated per case {maxAllocated / 1048576.0:0.0} MiB");
    }
}

namespace ModelBuildTasks.Evaluation;

/// <summary>
/// Which outputs are one score per class: one rule for the engine's metric (<c>MetricChoice</c>) and for the
/// class the build generates without the engine (design time, <c>ModelCompressionEnabled=false</c>), so that both
/// classes have the same members.
/// </summary>
public static class ClassScores
{
    /// <summary>The class count of an output <c>[N, C]</c> with a fixed C of at least 2, else 0 (embeddings, feature maps, a single score, a symbolic C).</summary>
    /// <param name="dims">The output's dimensions, -1 for symbolic ones.</param>
    /// <param name="asked">Whether the user asked for a class metric (accuracy, agreement): then <c>[N, C, 1, 1]</c>, a
    /// 1x1-convolution classifier without a Flatten, is C class scores too. Unasked, such an output reads as features
    /// ([N, 512, 1, 1] embeddings look the same).</param>
    public static int Count(IReadOnlyList<long> dims, bool asked = false) =>
        dims.Count >= 2 && (dims.Count == 2 || asked && dims.Skip(2).All(d => d == 1)) && dims[1] is >= 2 and <= int.MaxValue ? (int)dims[1] : 0;

    /// <summary>The same for dimensions written as text (a size, or a symbolic name).</summary>
    public static int Count(IReadOnlyList<string> dims, bool asked = false) =>
        Count(dims.Select(d => long.TryParse(d, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) ? n : -1).ToList(), asked);
}

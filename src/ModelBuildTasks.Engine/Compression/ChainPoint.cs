using System.Globalization;

namespace ModelBuildTasks.Compression;

/// <summary>
/// One point of the compression space: the knob of each method. A null knob means the method is
/// not applied (NS with ratio 0 removes nothing).
/// </summary>
/// <param name="Bits">IQ's weight bits, or null for no quantization.</param>
/// <param name="NsRatio">NS's fraction of channels removed.</param>
/// <param name="DcRatio">DC's fraction of weights pruned, or null for no DC.</param>
/// <param name="SharedLevels">DC's weight sharing: levels per layer on the IQ grid (0 = none).</param>
/// <param name="FloatLayers">IQ's fallback: this many of the layers that cost the most (<see cref="Passes.Quantization.LayerSensitivity"/>) stay float.</param>
/// <param name="NarrowSteps">IQ's per-layer precision: this many steps of <see cref="Passes.Quantization.LayerNarrowing"/>'s order are taken, each one layer a bit narrower than <paramref name="Bits"/>.</param>
public sealed record ChainPoint(int? Bits, double NsRatio, double? DcRatio, int SharedLevels = 0, int FloatLayers = 0, int NarrowSteps = 0)
{
    /// <summary>The knobs as report entries (<c>bits</c>, <c>ns_ratio</c>, <c>dc_ratio</c>).</summary>
    public IEnumerable<KeyValuePair<string, string>> Knobs()
    {
        if (Bits is { } b) yield return new("bits", b.ToString(CultureInfo.InvariantCulture));
        if (NsRatio > 0) yield return new("ns_ratio", Ratio(NsRatio));
        if (DcRatio is { } d and > 0) yield return new("dc_ratio", Ratio(d)); // the grid's ratio 0 prunes nothing
        if (SharedLevels > 0) yield return new("shared_levels", SharedLevels.ToString(CultureInfo.InvariantCulture));
        if (FloatLayers > 0) yield return new("float_layers", FloatLayers.ToString(CultureInfo.InvariantCulture));
        if (NarrowSteps > 0) yield return new("narrow_steps", NarrowSteps.ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>Short text, e.g. <c>bits=6 narrow=4 ns=0.3 dc=0.8</c>.</summary>
    public override string ToString() =>
        string.Join(" ", new[] { Bits is { } b ? $"bits={b}" : null, NarrowSteps > 0 ? $"narrow={NarrowSteps}" : null, NsRatio > 0 ? $"ns={Ratio(NsRatio)}" : null, DcRatio is { } d ? $"dc={Ratio(d)}" : null, SharedLevels > 0 ? $"levels={SharedLevels}" : null, FloatLayers > 0 ? $"float={FloatLayers}" : null }.OfType<string>()) is { Length: > 0 } s ? s : "float";

    /// <summary>A ratio as stable text (no float noise).</summary>
    public static string Ratio(double value) => value.ToString("0.###", CultureInfo.InvariantCulture);
}

using ModelBuildTasks.Compression;
using ModelBuildTasks.Passes.Quantization;

namespace ModelBuildTasks.Search;

/// <summary>
/// The values each method's knob can take, least compressive first, shared by the margin search and
/// the grid so both work at the same resolution.
/// </summary>
public sealed record SearchSpace(IReadOnlyList<int> Bits, IReadOnlyList<double> NsRatios, IReadOnlyList<double> DcRatios, int SharedLevels)
{
    /// <summary>
    /// The narrowest grid the whole model is tried on: 4 bits. Below it single layers are narrowed instead
    /// (<see cref="LayerNarrowing"/>): a classifier tolerates 2 bits where a first convolution loses its features.
    /// </summary>
    public const int NarrowestUniformBits = 4;

    /// <summary>The space <paramref name="settings"/> describe: bits from the widest portable grid (7) down to MinBits (4 at the least), ratios 0 up to their maximum in steps of the resolution.</summary>
    public static SearchSpace From(CompressionSettings settings) => new(
        Enumerable.Range(Math.Max(NarrowestUniformBits, settings.MinBits), PortableGrid.MaxBits + 1 - Math.Max(NarrowestUniformBits, settings.MinBits)).Reverse().ToArray(),
        Ratios(settings.MaxNsRatio, settings.Resolution),
        Ratios(settings.MaxDcRatio, settings.Resolution),
        settings.Methods.Contains("iq") ? settings.SharedLevels : 0);

    /// <summary>
    /// Whether weight sharing can still save anything at <paramref name="bits"/>: only when it leaves
    /// fewer levels than the grid has (2^bits - 1).
    /// </summary>
    public bool Shares(int? bits) => SharedLevels > 0 && bits is { } b && SharedLevels < (1 << b) - 1;

    static double[] Ratios(double max, double step) =>
        Enumerable.Range(0, (int)Math.Floor(max / step + 1e-9) + 1).Select(k => Math.Round(k * step, 6)).ToArray();

    /// <summary>How many values the knob of <paramref name="method"/> has.</summary>
    public int Count(string method) => method switch { "iq" => Bits.Count, "ns" => NsRatios.Count, _ => DcRatios.Count };

    /// <summary><paramref name="point"/> with the knob of <paramref name="method"/> at position <paramref name="index"/>.</summary>
    public ChainPoint With(ChainPoint point, string method, int index) => method switch
    {
        "iq" => point with { Bits = Bits[index] },
        "ns" => point with { NsRatio = NsRatios[index] },
        _ => point with { DcRatio = DcRatios[index] },
    };

    /// <summary>Where <paramref name="point"/> sits on the knob of <paramref name="method"/> (a method not applied: its first position).</summary>
    public int PositionOf(ChainPoint point, string method) => method switch
    {
        "iq" => point.Bits is { } b ? IndexOf("iq", b) : 0,
        "ns" => IndexOf("ns", point.NsRatio),
        _ => IndexOf("dc", point.DcRatio ?? 0),
    };

    /// <summary>The position nearest to <paramref name="value"/> on the knob of <paramref name="method"/>.</summary>
    public int IndexOf(string method, double value) => method switch
    {
        "iq" => Nearest(Bits.Select(b => (double)b).ToList(), value),
        "ns" => Nearest(NsRatios, value),
        _ => Nearest(DcRatios, value),
    };

    static int Nearest(IReadOnlyList<double> values, double value) =>
        Enumerable.Range(0, values.Count).MinBy(i => Math.Abs(values[i] - value));

    /// <summary>
    /// Every point of the grid over <paramref name="methods"/>, nested in method order so consecutive
    /// points share prefixes; DC points come with and without weight sharing.
    /// </summary>
    public IEnumerable<ChainPoint> Grid(IReadOnlyList<string> methods)
    {
        IEnumerable<ChainPoint> points = [new ChainPoint(null, 0, null)];
        foreach (var method in methods)
            points = points.SelectMany(p => Enumerable.Range(0, Count(method)).Select(i => With(p, method, i))).ToList();
        return methods.Contains("dc")
            ? points.SelectMany(p => Shares(p.Bits) ? [p, p with { SharedLevels = SharedLevels }] : new[] { p }).ToList()
            : points;
    }
}

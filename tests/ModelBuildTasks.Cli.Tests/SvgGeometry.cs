using System.Globalization;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace ModelBuildTasks.Cli.Tests;

/// <summary>
/// Boxes of what a ScottPlot SVG draws, in page coordinates: each text from its glyph offsets,
/// font size and transform (translate or rotation matrix), each filled rectangle as given. Enough to
/// check that labels lie inside the picture and that the legend covers no bar, without a browser.
/// </summary>
sealed class SvgGeometry
{
    static readonly XNamespace Svg = "http://www.w3.org/2000/svg";

    public sealed record Box(double Left, double Top, double Right, double Bottom)
    {
        public bool Overlaps(Box o) => Left < o.Right && o.Left < Right && Top < o.Bottom && o.Top < Bottom;
        public bool Inside(double width, double height) => Left >= -0.5 && Top >= -0.5 && Right <= width + 0.5 && Bottom <= height + 0.5;
    }

    public sealed record Text(string Content, Box Box);

    public sealed record Rect(string Fill, Box Box);

    public double Width { get; }
    public double Height { get; }
    public IReadOnlyList<Text> Texts { get; }
    public IReadOnlyList<Rect> Rects { get; }

    public SvgGeometry(string svg)
    {
        var root = XDocument.Parse(svg).Root!;
        Width = Number(root.Attribute("width")!.Value);
        Height = Number(root.Attribute("height")!.Value);
        Texts = root.Descendants(Svg + "text").Select(ToText).ToList();
        Rects = root.Descendants(Svg + "rect").Where(r => r.Attribute("x") is not null && r.Attribute("fill")?.Value is { } f && f != "none")
            .Select(r => new Rect(r.Attribute("fill")!.Value, new Box(Number(r.Attribute("x")!.Value), Number(r.Attribute("y")!.Value),
                Number(r.Attribute("x")!.Value) + Number(r.Attribute("width")!.Value), Number(r.Attribute("y")!.Value) + Number(r.Attribute("height")!.Value))))
            .ToList();
    }

    static double Number(string s) => double.Parse(s.Trim(), CultureInfo.InvariantCulture);

    static Text ToText(XElement e)
    {
        var size = Number(e.Attribute("font-size")?.Value ?? "12");
        var offsets = (e.Attribute("x")?.Value ?? "0").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(Number).ToList();
        var dy = (e.Attribute("y")?.Value ?? "0").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(Number).FirstOrDefault();
        // Glyph offsets start below 0 for right-aligned text (left axis labels). The last glyph's
        // advance is not recorded: 0.7 em covers the widest Latin glyphs.
        var left = offsets.Count > 0 ? offsets.Min() : 0;
        var right = (offsets.Count > 0 ? offsets.Max() : 0) + 0.7 * size;
        (double X, double Y)[] corners = [(left, dy - 0.8 * size), (right, dy - 0.8 * size), (left, dy + 0.25 * size), (right, dy + 0.25 * size)];
        var (a, b, c, d, tx, ty) = Transform(e.Attribute("transform")?.Value ?? "");
        var page = corners.Select(p => (X: a * p.X + c * p.Y + tx, Y: b * p.X + d * p.Y + ty)).ToList();
        return new Text(e.Value.Trim(), new Box(page.Min(p => p.X), page.Min(p => p.Y), page.Max(p => p.X), page.Max(p => p.Y)));
    }

    static (double, double, double, double, double, double) Transform(string transform)
    {
        var numbers = Regex.Matches(transform, @"-?\d+(\.\d+)?(e-?\d+)?").Select(m => Number(m.Value)).ToList();
        if (transform.StartsWith("translate", StringComparison.Ordinal)) return (1, 0, 0, 1, numbers[0], numbers.Count > 1 ? numbers[1] : 0);
        if (transform.StartsWith("matrix", StringComparison.Ordinal)) return (numbers[0], numbers[1], numbers[2], numbers[3], numbers[4], numbers[5]);
        return (1, 0, 0, 1, 0, 0);
    }
}

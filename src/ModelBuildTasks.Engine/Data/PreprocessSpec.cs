using System.Globalization;

namespace ModelBuildTasks.Data;

/// <summary>
/// How raw images become model input, written as <c>key=value</c> pairs separated by <c>;</c>
/// (the same text in the CLI's <c>--preprocess</c> and the csproj's <c>Preprocess</c> metadata):
/// <list type="bullet">
/// <item><c>resize=HxW</c>: bilinear resize as Pillow's BILINEAR and torchvision's antialiased Resize do it, the
/// filter widened by the factor when shrinking (<c>BilinearResize</c>; default: none; sizes must then match the model).</item>
/// <item><c>channels=1|3</c>: convert grey to RGB (replicate) or RGB to grey (luma).</item>
/// <item><c>scale=F</c>: multiply pixels by F; <c>1/255</c> is accepted. Default: 1/255 for 8-bit data, else 1.</item>
/// <item><c>mean=a[,b,c]</c> and <c>std=a[,b,c]</c>: then (x - mean) / std per channel (default 0 and 1).</item>
/// </list>
/// The result is always float32 in N x C x H x W order.
/// </summary>
public sealed record PreprocessSpec
{
    /// <summary>Target (height, width), or null to keep the size.</summary>
    public (int Height, int Width)? Resize { get; init; }
    /// <summary>Target channel count, or null to keep it.</summary>
    public int? Channels { get; init; }
    /// <summary>Scale factor, or null for the default (1/255 for 8-bit data).</summary>
    public float? Scale { get; init; }
    /// <summary>Per-channel (or single) mean subtracted after scaling.</summary>
    public float[] Mean { get; init; } = [0f];
    /// <summary>Per-channel (or single) standard deviation divided by after the mean.</summary>
    public float[] Std { get; init; } = [1f];

    /// <summary>The default: scale 8-bit pixels to [0, 1], nothing else.</summary>
    public static PreprocessSpec Default { get; } = new();

    /// <summary>The same spec with the scale made explicit for data of the given kind (1/255 for 8-bit pixels), as recorded for apps.</summary>
    public PreprocessSpec Resolved(bool eightBit) => this with { Scale = Scale ?? (eightBit ? 1f / 255f : 1f) };

    /// <summary>
    /// The preprocessing asked for a model: <paramref name="given"/>, else the one the model stores; for an input the
    /// engine converted from uint8 (<paramref name="pixelInput"/>, Passes/PixelInput), without a scale, 8-bit images go in
    /// as the pixel values the model was built for (scale 1), not over 255. A given or stored resize, mean or scale is kept.
    /// </summary>
    /// <exception cref="ModelBuildException">With code <see cref="ErrorCodes.InvalidPreprocessing"/> when the text is malformed.</exception>
    public static PreprocessSpec Requested(string? given, string? stored, bool pixelInput)
    {
        var spec = Parse(given ?? stored);
        return spec.Scale is null && pixelInput ? spec with { Scale = 1f } : spec;
    }

    /// <summary>Parses the text form; an empty or null text gives <see cref="Default"/>.</summary>
    /// <exception cref="ModelBuildException">With code <see cref="ErrorCodes.InvalidPreprocessing"/> when the text is malformed.</exception>
    public static PreprocessSpec Parse(string? text)
    {
        var spec = Default;
        if (string.IsNullOrWhiteSpace(text)) return spec;
        foreach (var part in text.Split([';', ' '], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = part.IndexOf('=');
            if (eq <= 0) throw Error($"'{part}' is not key=value");
            var key = part[..eq].Trim().ToLowerInvariant();
            var value = part[(eq + 1)..].Trim();
            spec = key switch
            {
                "resize" => spec with { Resize = ParseSize(value) },
                "channels" => spec with { Channels = value is "1" or "3" ? int.Parse(value, CultureInfo.InvariantCulture) : throw Error($"channels must be 1 or 3, not '{value}'") },
                "scale" => spec with { Scale = ParseNumber(value) },
                "mean" => spec with { Mean = value.Split(',').Select(ParseNumber).ToArray() },
                "std" => spec with { Std = value.Split(',').Select(v => ParseNumber(v) is var s && s > 0 ? s : throw Error("std must be positive")).ToArray() },
                _ => throw Error($"unknown key '{key}' (known: resize, channels, scale, mean, std)"),
            };
        }
        return spec;
    }

    /// <summary>The canonical text form (stable, used in cache keys and metadata).</summary>
    public override string ToString()
    {
        var parts = new List<string>();
        if (Resize is { } r) parts.Add($"resize={r.Height}x{r.Width}");
        if (Channels is { } c) parts.Add($"channels={c}");
        if (Scale is { } s) parts.Add($"scale={s.ToString("R", CultureInfo.InvariantCulture)}");
        parts.Add("mean=" + string.Join(",", Mean.Select(m => m.ToString("R", CultureInfo.InvariantCulture))));
        parts.Add("std=" + string.Join(",", Std.Select(m => m.ToString("R", CultureInfo.InvariantCulture))));
        return string.Join(";", parts);
    }

    static (int, int) ParseSize(string value)
    {
        var parts = value.Split('x', 'X');
        if (parts.Length == 2 && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var h)
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var w) && h > 0 && w > 0 && h <= 8192 && w <= 8192)
            return (h, w);
        throw Error($"resize must be HxW (e.g. 32x32), not '{value}'");
    }

    static float ParseNumber(string value)
    {
        var slash = value.IndexOf('/');
        if (slash > 0 && float.TryParse(value[..slash], NumberStyles.Float, CultureInfo.InvariantCulture, out var n)
            && float.TryParse(value[(slash + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && d != 0)
            return n / d;
        return float.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && float.IsFinite(v)
            ? v
            : throw Error($"'{value}' is not a number");
    }

    static ModelBuildException Error(string message) => new(ErrorCodes.InvalidPreprocessing, $"invalid preprocessing: {message}");
}

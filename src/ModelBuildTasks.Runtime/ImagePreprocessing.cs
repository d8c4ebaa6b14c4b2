using System.Globalization;
using StbImageSharp;

namespace ModelBuildTasks.Runtime;

/// <summary>
/// Turns an encoded image (PNG, JPEG, BMP, GIF, TGA, PSD, HDR) into one model input, with the
/// preprocessing the container records. It mirrors the engine's image-folder datasets step for
/// step (decode as grey or RGB, antialiased bilinear resize, channel conversion in float, then scale, mean
/// and std), so an image file gives the app the same floats the accuracy was measured on.
/// </summary>
static class ImagePreprocessing
{
    public static float[] FromBytes(byte[] encoded, string source, string preprocess, int channels, int height, int width, long maxPixels = ImageDecoding.MaxImagePixels)
    {
        ImageResult image;
        try
        {
            image = ImageDecoding.Decode(encoded, ImageDecoding.GreyOrRgb, maxPixels);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{source}: {e.Message}", e);
        }
        var spec = Spec.Parse(preprocess);
        var from = image.Comp == ColorComponents.Grey ? 1 : 3;
        var plane = image.Width * image.Height;
        var chw = new float[from * plane];
        for (var p = 0; p < plane; p++)
        for (var c = 0; c < from; c++)
            chw[c * plane + p] = image.Data[p * from + c];
        // The recorded resize, else the model's own size: a photo of any size still fits the input.
        var (h, w) = spec.Resize ?? (height, width);
        if (image.Height != h || image.Width != w) chw = BilinearResize.Resize(chw, from, image.Height, image.Width, h, w);
        if (h != height || w != width)
            throw new InvalidDataException($"{source}: the preprocessing resizes to {h}x{w}, but the model takes {height}x{width}");
        chw = ConvertChannels(chw, from, channels, h * w);
        var mean = PerChannel(spec.Mean, channels);
        var std = PerChannel(spec.Std, channels);
        var scale = spec.Scale ?? 1f / 255f; // images are always 8-bit: the engine's default for them
        for (var c = 0; c < channels; c++)
        for (var p = 0; p < h * w; p++)
            chw[c * h * w + p] = (chw[c * h * w + p] * scale - mean[c]) / std[c];
        return chw;
    }

    public static float[] FromFile(string path, string preprocess, int channels, int height, int width, long maxPixels = ImageDecoding.MaxImagePixels)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var info = new FileInfo(path);
        // FileInfo of a folder does not exist either: say which it is, not "not found" for a folder that is there.
        if (!info.Exists) throw new FileNotFoundException(Directory.Exists(path) ? $"{path} is a directory, not an image file" : $"image file not found: {path}", path);
        if (info.Length > int.MaxValue) throw new InvalidDataException($"{path}: the file is too large for an image");
        return FromBytes(File.ReadAllBytes(path), path, preprocess, channels, height, width, maxPixels);
    }

    // The same as the engine's Preprocessing.ConvertChannels: grey is replicated, RGB becomes luma.
    static float[] ConvertChannels(float[] image, int from, int to, int plane)
    {
        if (from == to) return image;
        var result = new float[to * plane];
        if (from == 1)
        {
            for (var c = 0; c < to; c++) Array.Copy(image, 0, result, c * plane, plane);
        }
        else if (to == 1)
        {
            for (var p = 0; p < plane; p++)
                result[p] = 0.299f * image[p] + 0.587f * image[plane + p] + 0.114f * image[2 * plane + p];
        }
        else throw new InvalidDataException($"cannot convert {from} channels to {to}");
        return result;
    }

    static float[] PerChannel(float[] values, int channels) =>
        values.Length == 1 ? Enumerable.Repeat(values[0], channels).ToArray()
        : values.Length == channels ? values
        : throw new InvalidDataException($"the container's preprocessing has {values.Length} values for {channels} channels");

    /// <summary>Throws <see cref="InvalidDataException"/> when a container's preprocessing cannot be applied (checked at load, not at the first image).</summary>
    public static void Check(string preprocess) => Spec.Parse(preprocess);

    /// <summary>
    /// The container's preprocessing text (the engine's canonical <c>PreprocessSpec</c> form:
    /// <c>resize=HxW;channels=C;scale=F;mean=..;std=..</c>). Parsed here because the runtime does not
    /// reference the engine; only the keys the engine writes are accepted.
    /// </summary>
    sealed record Spec((int Height, int Width)? Resize, float? Scale, float[] Mean, float[] Std)
    {
        public static Spec Parse(string text)
        {
            var spec = new Spec(null, null, [0f], [1f]);
            foreach (var part in text.Split([';', ' '], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var eq = part.IndexOf('=');
                if (eq <= 0) throw Bad(part);
                var value = part[(eq + 1)..];
                spec = part[..eq].ToLowerInvariant() switch
                {
                    "resize" when value.Split('x', 'X') is [var h, var w] => spec with { Resize = (Int(h), Int(w)) },
                    "channels" => spec, // the model's input decides the channels
                    "scale" => spec with { Scale = Number(value) },
                    "mean" => spec with { Mean = value.Split(',').Select(Number).ToArray() },
                    "std" => spec with { Std = value.Split(',').Select(Number).ToArray() },
                    _ => throw Bad(part),
                };
            }
            // The engine refuses these when it writes a container (MBT1105); a container that has them was not written by it.
            if (spec.Std.Any(s => s <= 0)) throw Bad("std=" + string.Join(",", spec.Std.Select(s => s.ToString(CultureInfo.InvariantCulture))));
            if (spec.Resize is { } r && (long)r.Height * r.Width > ImageDecoding.MaxImagePixels) throw Bad($"resize={r.Height}x{r.Width}");
            return spec;
        }

        static int Int(string v) => int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out var i) && i > 0 ? i : throw Bad(v);

        // A number or a fraction "a/b" (as 1/255), one slash at most: the metadata comes from the file, and a chain of
        // slashes parsed by recursion once let a 203-byte container overflow the loading thread's stack.
        static float Number(string v)
        {
            var parts = v.Split('/');
            if (parts.Length > 2) throw Bad(v);
            var value = Plain(parts[0]);
            if (parts.Length == 1) return value;
            var divisor = Plain(parts[1]);
            return divisor != 0 && float.IsFinite(value / divisor) ? value / divisor : throw Bad(v);

            float Plain(string text) => float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var f) && float.IsFinite(f) ? f : throw Bad(v);
        }

        static InvalidDataException Bad(string part) => new($"the container's preprocessing '{part}' cannot be read");
    }
}

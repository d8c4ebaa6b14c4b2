namespace ModelBuildTasks.Data;

/// <summary>
/// Loads images from a NumPy <c>.npz</c> archive with arrays <c>x</c> (images) and optionally
/// <c>y</c> (labels). <c>x</c> may be N x H x W, N x C x H x W or N x H x W x C (channels last is
/// recognised when the last axis has 1, 3 or 4 entries and the second does not).
/// </summary>
public static class NpzDataset
{
    /// <summary>Reads the archive.</summary>
    public static ImageDataset Load(string path)
    {
        var arrays = NpyFormat.ReadNpz(path);
        if (!arrays.TryGetValue("x", out var x))
            throw DataErrors.Invalid(path, $"a .npz dataset needs an array 'x' (it has: {string.Join(", ", arrays.Keys)})");
        var s = x.Shape;
        int count, channels, height, width;
        float[] pixels;
        if (s.Length == 3)
        {
            (count, channels, height, width) = (s[0], 1, s[1], s[2]);
            pixels = x.Values.Select(v => (float)v).ToArray();
        }
        else if (s.Length == 4 && s[3] is 1 or 3 or 4 && s[1] is not (1 or 3 or 4))
        {
            (count, height, width, channels) = (s[0], s[1], s[2], s[3]);
            pixels = Layout.HwcToChw<double>(x.Values, count, height, width, channels);
        }
        else if (s.Length == 4)
        {
            (count, channels, height, width) = (s[0], s[1], s[2], s[3]);
            pixels = x.Values.Select(v => (float)v).ToArray();
        }
        else throw DataErrors.Invalid(path, $"'x' must have 3 or 4 dimensions, not {s.Length}");

        // NaN or infinity survives every preprocessing step and turns all logits into NaN: top-1 is then
        // class 0 for every model, so accuracies would be meaningless rather than wrong.
        for (var i = 0; i < x.Values.Length; i++)
            if (!double.IsFinite(x.Values[i]))
                throw DataErrors.Invalid(path, $"'x' holds a non-finite value ({x.Values[i]}) at index {i}");
        if (pixels.Any(p => !float.IsFinite(p)))
            throw DataErrors.Invalid(path, "'x' holds a value too large for a 32-bit float");

        int[]? labels = null;
        if (arrays.TryGetValue("y", out var y))
        {
            if (y.Shape.Length != 1) throw DataErrors.Invalid(path, "'y' must be a 1-D array of class indices");
            if (y.Values.Any(v => v < 0 || v != Math.Floor(v) || v > int.MaxValue)) throw DataErrors.Invalid(path, "'y' must hold non-negative integer class indices");
            labels = y.Values.Select(v => (int)v).ToArray();
            if (labels.Length != count)
                throw new ModelBuildException(ErrorCodes.LabelCountMismatch, $"'x' has {count} images but 'y' has {labels.Length} labels", path);
        }
        return new ImageDataset(pixels, count, channels, height, width, labels, eightBit: x.IsUInt8, source: path);
    }
}

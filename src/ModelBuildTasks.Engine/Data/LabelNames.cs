namespace ModelBuildTasks.Data;

/// <summary>
/// The class names a model carries (ONNX metadata <c>labels</c>, comma-separated) against the ones a
/// dataset gives (an image folder's class folders). The model's names win, as before, but a
/// disagreement is no longer silent: a model fine-tuned on digits kept the Fashion-MNIST names.
/// </summary>
public static class LabelNames
{
    /// <summary>The model's stored class names, or null when it has none.</summary>
    public static IReadOnlyList<string>? Of(Graph.OnnxModel model) =>
        model.Metadata.GetValueOrDefault("labels") is { Length: > 0 } text ? Parse(text) : null;

    /// <summary>Comma-separated names, trimmed.</summary>
    public static string[] Parse(string text) => text.Split(',').Select(l => l.Trim()).ToArray();

    /// <summary>
    /// <paramref name="data"/> labelled in the model's class order when each of its class names is one of the
    /// model's (an image folder numbers its classes in name order, and "T-shirt, Trouser, ..." is not
    /// alphabetical; a folder may hold a few of the classes only), so accuracy compares the same classes;
    /// otherwise <paramref name="data"/> itself.
    /// </summary>
    /// <param name="data">The dataset.</param>
    /// <param name="model">The model's class names, or null when it has none.</param>
    /// <param name="classCount">The model's class count, when known. A dataset whose class folders are all numbers below it
    /// ("0", "2", ..., "9": a class missing from the set) is labelled by those numbers, not by the folders' positions, which
    /// would shift every class after the gap; against a model with names, below their count, and named as the model's classes.</param>
    public static ImageDataset Align(ImageDataset data, IReadOnlyList<string>? model, long? classCount = null)
    {
        if (data.ClassNames is not { } names) return data;
        if (model is null)
            return classCount is { } n && Numbered(names, n) is { } numbers && !numbers.Select((c, i) => c == i).All(same => same)
                ? data.WithClassOrder(numbers, Enumerable.Range(0, (int)n).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray())
                : data;
        if (names.SequenceEqual(model, StringComparer.OrdinalIgnoreCase)) return data;
        if (Renumbering(names, model) is { } classes) return data.WithClassOrder(classes, model);
        // Folders named by number ("0", "2", ..., "9") against a model with names: the numbers are its class indices.
        return Numbered(names, model.Count) is { } numbered ? data.WithClassOrder(numbered, model) : data;
    }

    /// <summary>Each name's number when every name is a plain non-negative number below <paramref name="classes"/> ("7", not "07" or "+7"), else null.</summary>
    public static int[]? Numbered(IReadOnlyList<string> names, long classes)
    {
        var numbers = new int[names.Count];
        for (var i = 0; i < names.Count; i++)
            if (!int.TryParse(names[i], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out numbers[i])
                || numbers[i].ToString(System.Globalization.CultureInfo.InvariantCulture) != names[i] || numbers[i] >= classes) return null;
        return numbers;
    }

    /// <summary>
    /// For each of the dataset's class names, the model's class of that name; null when a name has none,
    /// or two meet in one class. Names match ignoring case and everything but letters and digits: no
    /// folder can be called "T-shirt/top", so "T-shirt_top" must find it.
    /// </summary>
    internal static int[]? Renumbering(IReadOnlyList<string> dataset, IReadOnlyList<string> model)
    {
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < model.Count; i++)
            if (Key(model[i]) is not { Length: > 0 } key || !index.TryAdd(key, i)) return null; // "a-b" and "ab" cannot be told apart
        var classes = new int[dataset.Count];
        var taken = new HashSet<int>();
        for (var j = 0; j < dataset.Count; j++)
            if (!index.TryGetValue(Key(dataset[j]), out classes[j]) || !taken.Add(classes[j])) return null;
        return classes;
    }

    // Composed first: macOS stores "Café" in a folder name as "Cafe" and a combining accent, which would drop out.
    static string Key(string name) => string.Concat(name.Normalize(System.Text.NormalizationForm.FormKC).Where(char.IsLetterOrDigit).Select(char.ToLowerInvariant));

    /// <summary>
    /// The warning text (code <see cref="ErrorCodes.LabelNameMismatch"/>) when the model's names and
    /// the dataset's differ, in count or in any name (compared in order, ignoring case); null when
    /// they agree or either side has none.
    /// </summary>
    /// <param name="model">The model's names.</param>
    /// <param name="dataset">The dataset's names.</param>
    /// <param name="fix">How to choose, e.g. <c>pass --labels</c>.</param>
    public static string? Mismatch(IReadOnlyList<string>? model, IReadOnlyList<string>? dataset, string fix)
    {
        if (model is null || dataset is null || model.Count == 0 || dataset.Count == 0) return null;
        if (model.Count == dataset.Count && model.Zip(dataset).All(p => string.Equals(p.First, p.Second, StringComparison.OrdinalIgnoreCase))) return null;
        return $"the model's stored class names [{string.Join(", ", model)}] differ from the dataset's [{string.Join(", ", dataset)}]; the model's are kept: {fix}";
    }
}

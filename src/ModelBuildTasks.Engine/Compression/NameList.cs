using System.Text;

namespace ModelBuildTasks.Compression;

/// <summary>
/// A list of names as one comma-separated knob value (the report's <c>float_layer_weights</c> and
/// <c>layer_bits</c>): a comma or backslash in a name is escaped with a backslash, so an ONNX weight
/// named <c>a,b</c> stays one entry when the report reads its own knobs back.
/// </summary>
public static class NameList
{
    /// <summary>The names, escaped and joined by commas.</summary>
    public static string Join(IEnumerable<string> names) =>
        string.Join(",", names.Select(n => n.Replace("\\", "\\\\", StringComparison.Ordinal).Replace(",", "\\,", StringComparison.Ordinal)));

    /// <summary>The names <see cref="Join"/> wrote; an empty text is no names.</summary>
    public static IReadOnlyList<string> Split(string text)
    {
        if (text.Length == 0) return [];
        var names = new List<string>();
        var name = new StringBuilder();
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '\\' && i + 1 < text.Length) name.Append(text[++i]);
            else if (text[i] == ',') { names.Add(name.ToString()); name.Clear(); }
            else name.Append(text[i]);
        }
        names.Add(name.ToString());
        return names;
    }
}

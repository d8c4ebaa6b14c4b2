using System.Globalization;
using System.Text;

namespace ModelBuildTasks.Codegen;

/// <summary>
/// Turns untrusted text (file names, model names, labels) into safe C#: identifiers that are
/// valid and not keywords, string literals with everything escaped, and XML doc text. A hostile
/// model cannot inject code through any of them.
/// </summary>
public static class CSharpNames
{
    /// <summary>
    /// A PascalCase identifier from any text: <c>fashion_vgg.onnx</c> -> <c>FashionVgg</c>. Only ASCII letters
    /// and digits survive; never empty, never starting with a digit, and never a keyword (C# keywords are
    /// all lower case, and the first letter is always upper case).
    /// </summary>
    public static string Identifier(string text)
    {
        var builder = new StringBuilder();
        var upper = true;
        foreach (var c in text)
        {
            if (char.IsAsciiLetterOrDigit(c))
            {
                builder.Append(upper ? char.ToUpperInvariant(c) : c);
                upper = false;
            }
            else upper = true;
        }
        var name = builder.ToString();
        if (name.Length == 0) name = "Model";
        return char.IsAsciiDigit(name[0]) ? "_" + name : name;
    }

    /// <summary>A namespace from dotted text, each part an identifier (or the fallback when empty).</summary>
    public static string Namespace(string? text, string fallback = "CompressedModels")
    {
        var parts = (text ?? "").Split('.', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return parts.Length == 0 ? fallback : string.Join(".", parts.Select(Identifier));
    }

    /// <summary>A C# string literal (quotes included): backslash, quote and every non-printable or non-ASCII character escaped.</summary>
    public static string Literal(string text)
    {
        var builder = new StringBuilder("\"");
        foreach (var c in text)
        {
            switch (c)
            {
                case '\\': builder.Append(@"\\"); break;
                case '"': builder.Append("\\\""); break;
                default:
                    if (c is >= ' ' and <= '~') builder.Append(c);
                    else builder.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    break;
            }
        }
        return builder.Append('"').ToString();
    }

    /// <summary>Text for an XML doc comment: one line (see <see cref="CommentText"/>), markup characters escaped.</summary>
    public static string Xml(string text)
    {
        var builder = new StringBuilder();
        foreach (var c in CommentText(text))
        {
            builder.Append(c switch
            {
                '&' => "&amp;",
                '<' => "&lt;",
                '>' => "&gt;",
                _ => c.ToString(),
            });
        }
        return builder.ToString();
    }

    /// <summary>
    /// Text that cannot leave a <c>//</c> comment: C# ends a comment at \r, \n, U+0085, U+2028 and
    /// U+2029, so a file name holding one could put code after it. Every character that is not
    /// visible text (controls, line and paragraph separators, format characters such as bidi
    /// overrides, lone surrogates, unassigned code points) becomes a space.
    /// </summary>
    public static string CommentText(string text)
    {
        var builder = new StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                builder.Append(c).Append(text[++i]); // a pair is one visible character
                continue;
            }
            var visible = char.GetUnicodeCategory(c) switch
            {
                UnicodeCategory.Control or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator or UnicodeCategory.Format
                    or UnicodeCategory.Surrogate or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned => false,
                _ => true,
            };
            builder.Append(visible ? c : ' ');
        }
        return builder.ToString();
    }
}

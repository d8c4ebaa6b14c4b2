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
    /// An identifier from a name the user gave (a <c>ClassName</c>, a part of <c>RootNamespace</c>): kept as
    /// written when it is a valid C# identifier in any script (<c>myapp</c>, <c>my_app</c>, <c>Modèle</c>),
    /// escaped with <c>@</c> where the compiler would object (a keyword; for a type, a contextual keyword
    /// such as <c>file</c> or <c>record</c>, or lower-case ASCII letters only, warning CS8981). Other text
    /// becomes an identifier as <see cref="FromFileName"/> makes one.
    /// A type name that is also a member of the generated class (a class may not hold a member of its own name) gets
    /// "Model" appended, and "Model" itself (from <c>model.onnx</c>, the most common file name) becomes <c>OnnxModel</c>.
    /// </summary>
    /// <param name="text">The name.</param>
    /// <param name="typeName">Whether it names a type (the class) rather than a namespace part.</param>
    public static string Identifier(string text, bool typeName = true)
    {
        var name = IsIdentifier(text) ? text : FromFileName(text);
        // Metadata holds a type's full name in at most 1,024 UTF-8 bytes (CS7013): see MaxLength.
        if (name.Length > MaxLength) name = name[..(char.IsHighSurrogate(name[MaxLength - 1]) ? MaxLength - 1 : MaxLength)];
        if (typeName && WrapperGenerator.MemberNames.Contains(name)) name = name == "Model" ? "OnnxModel" : name + "Model";
        var escape = Keywords.Contains(name) || typeName && (TypeContextualKeywords.Contains(name) || name.All(char.IsAsciiLetterLower));
        return escape ? "@" + name : name;
    }

    /// <summary>
    /// A PascalCase identifier from any text, for a class named after its model file when no ClassName is
    /// given: <c>fashion_vgg</c> -> <c>FashionVgg</c>, <c>modèle réseau</c> -> <c>ModèleRéseau</c> (letters of any
    /// script kept); never empty, never starting with a digit, never a keyword (they are all lower case).
    /// </summary>
    public static string FromFileName(string text)
    {
        var builder = new StringBuilder();
        var upper = true;
        // Composed first: macOS stores "modèle" in a file name as "e" and a combining accent, which split the word.
        foreach (var c in text.Normalize(NormalizationForm.FormC))
        {
            if (char.IsLetterOrDigit(c))
            {
                builder.Append(upper ? char.ToUpperInvariant(c) : c);
                upper = false;
            }
            else if (builder.Length > 0 && !upper && char.GetUnicodeCategory(c) is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark) builder.Append(c);
            else upper = true;
        }
        var name = builder.ToString();
        if (name.Length == 0) name = "Model";
        return char.IsDigit(name[0]) ? "_" + name : name;
    }

    // A letter or underscore, then letters, digits, connectors and combining marks (C# 6 identifiers, without
    // format characters, which can hide text); surrogate pairs are not accepted.
    static bool IsIdentifier(string text) =>
        text.Length > 0 && (text[0] == '_' || IsLetter(text[0])) && text.All(c => IsLetter(c) || char.GetUnicodeCategory(c) is
            UnicodeCategory.DecimalDigitNumber or UnicodeCategory.ConnectorPunctuation or UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark);

    static bool IsLetter(char c) => char.GetUnicodeCategory(c) is UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter
        or UnicodeCategory.TitlecaseLetter or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter or UnicodeCategory.LetterNumber;

    // Identifiers of at most 150 characters (450 UTF-8 bytes) and a namespace of at most 500 bytes fit metadata's 1,024.
    const int MaxLength = 150;
    const int MaxNamespaceBytes = 500;

    static readonly HashSet<string> Keywords = new(StringComparer.Ordinal)
    {
        "abstract", "as", "base", "bool", "break", "byte", "case", "catch", "char", "checked", "class", "const", "continue",
        "decimal", "default", "delegate", "do", "double", "else", "enum", "event", "explicit", "extern", "false", "finally",
        "fixed", "float", "for", "foreach", "goto", "if", "implicit", "in", "int", "interface", "internal", "is", "lock",
        "long", "namespace", "new", "null", "object", "operator", "out", "override", "params", "private", "protected",
        "public", "readonly", "ref", "return", "sbyte", "sealed", "short", "sizeof", "stackalloc", "static", "string",
        "struct", "switch", "this", "throw", "true", "try", "typeof", "uint", "ulong", "unchecked", "unsafe", "ushort",
        "using", "virtual", "void", "volatile", "while",
        "__arglist", "__makeref", "__reftype", "__refvalue", // undocumented, but keywords to the compiler
    };

    // Contextual keywords a type may not be named (errors CS9056, CS9029, CS9062 and others; warning CS8860 for record).
    static readonly HashSet<string> TypeContextualKeywords = new(StringComparer.Ordinal)
    {
        "file", "required", "scoped", "record", "var", "dynamic", "nameof", "value", "async", "await", "partial", "notnull", "unmanaged", "managed", "field", "extension", "allows",
    };

    /// <summary>
    /// The generated class's full name: <see cref="Namespace"/>, a dot and the <see cref="Identifier"/> of
    /// <paramref name="className"/>, except that a class ModelBuildTasks.Runtime (or .Container) gets "Model" appended:
    /// it would hide the namespace the class's code names (CS0437).
    /// </summary>
    public static (string Namespace, string ClassName) ClassOf(string className, string? ns)
    {
        var (space, name) = (Namespace(ns), Identifier(className));
        return (space, space == "ModelBuildTasks" && name.TrimStart('@') is "Runtime" or "Container" ? name.TrimStart('@') + "Model" : name);
    }

    /// <summary>
    /// A namespace from dotted text, each part an identifier (or the fallback when empty). Metadata holds a type's full
    /// name in 1,024 UTF-8 bytes (CS7013): the namespace keeps the parts that fit in half of them, the class the rest.
    /// </summary>
    public static string Namespace(string? text, string fallback = "CompressedModels")
    {
        var parts = (text ?? "").Split('.', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var kept = new List<string>();
        foreach (var part in parts.Select(p => Identifier(p, typeName: false)))
        {
            if (kept.Count > 0 && Encoding.UTF8.GetByteCount(string.Join(".", kept.Append(part))) > MaxNamespaceBytes) break;
            kept.Add(part);
        }
        return kept.Count == 0 ? fallback : string.Join(".", kept);
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

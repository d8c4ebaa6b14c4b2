using System.Text;

namespace ModelBuildTasks.Compression;

/// <summary>
/// Text from inputs (file names, messages quoting them) as inert Markdown: markup characters
/// escaped, line breaks and other invisible characters made spaces, so a crafted model name cannot
/// add links, HTML or table rows to report.md.
/// </summary>
public static class MarkdownText
{
    /// <summary>The escaped text, on one line.</summary>
    public static string Escape(string text)
    {
        var builder = new StringBuilder(text.Length);
        foreach (var c in Codegen.CSharpNames.CommentText(text))
        {
            if (c is '<') builder.Append("&lt;");
            else if (c is '>') builder.Append("&gt;");
            else if (c is '&') builder.Append("&amp;");
            else if ("\\`*_{}[]()#+-.!|~".Contains(c)) builder.Append('\\').Append(c);
            else builder.Append(c);
        }
        return builder.ToString();
    }
}

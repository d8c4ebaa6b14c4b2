using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.Text.RegularExpressions;

namespace ModelBuildTasks.Cli;

/// <summary>
/// Help as users type the tools: usage lines say <c>dotnet compress-model</c> (the tool's file name,
/// <c>dotnet-compress-model</c>, is how the SDK finds it, not how people run it), and values have
/// meaningful placeholders (<c>--data DATASET</c>, not <c>--data &lt;data&gt;</c>). Shared as source
/// with the training add-on, which is run as <c>dotnet compress-model train</c>.
/// </summary>
static partial class CliHelp
{
    /// <summary>The environment variable through which <c>dotnet compress-model train</c> tells the add-on how it was invoked.</summary>
    public const string UsageNameVariable = "MBT_USAGE_NAME";

    // Placeholders by option name, where the command did not give one; the rest fall back to VALUE.
    static readonly Dictionary<string, string> Placeholders = new(StringComparer.Ordinal)
    {
        ["--data"] = "DATASET", ["--test-data"] = "DATASET", ["--train-data"] = "DATASET",
        ["--preprocess"] = "SPEC", ["--labels"] = "NAMES", ["--reference"] = "MODEL", ["--report"] = "REPORT.json",
        ["--wrapper"] = "FILE.cs", ["--class-name"] = "NAME", ["--namespace"] = "NAMESPACE", ["--resource-name"] = "NAME",
        ["--cache-dir"] = "DIR", ["--cache-url"] = "URL", ["--cache-max-size"] = "SIZE", ["--max-size"] = "SIZE", ["--older-than"] = "AGE",
        ["--cache-timeout"] = "SECONDS", ["--metric"] = "METRIC", ["--methods"] = "METHODS", ["--search"] = "KIND",
        ["--calibration"] = "METHOD", ["--rounding"] = "METHOD", ["--pruning-scope"] = "SCOPE", ["--max-accuracy-drop"] = "POINTS", ["--confidence"] = "P",
        ["--target-accuracy"] = "ACCURACY", ["--resolution"] = "STEP", ["--max-ns-ratio"] = "RATIO", ["--max-dc-ratio"] = "RATIO",
        ["--ns-ratio"] = "RATIO", ["--dc-ratio"] = "RATIO", ["--bits"] = "BITS", ["--min-bits"] = "BITS", ["--fake-quant-bits"] = "BITS",
        ["--shared-levels"] = "LEVELS", ["--fine-tune-epochs"] = "EPOCHS", ["--epochs"] = "EPOCHS", ["--fine-tune-seconds"] = "SECONDS",
        ["--seconds"] = "SECONDS", ["--fine-tune-lr"] = "RATE", ["--lr"] = "RATE", ["--l1-gamma"] = "LAMBDA", ["--seed"] = "SEED",
        ["--threads"] = "N", ["--batch-size"] = "N", ["--latency-samples"] = "N", ["--limit"] = "N", ["--count"] = "N", ["--skip"] = "N",
        ["--max-evaluations"] = "N", ["--max-validation-images"] = "N", ["--output"] = "FILE",
    };

    /// <summary>Gives every valued option of <paramref name="root"/> a placeholder and makes help print the name users type.</summary>
    /// <param name="root">The root command, with its subcommands added.</param>
    /// <param name="usageName">How users run the tool, e.g. <c>dotnet compress-model</c>.</param>
    public static void Configure(RootCommand root, string usageName)
    {
        Visit(root);
        var help = root.Options.OfType<HelpOption>().First();
        if (help.Action is HelpAction inner) help.Action = new RenamedHelp(inner, RootCommand.ExecutableName, usageName);
    }

    static void Visit(Command command)
    {
        foreach (var option in command.Options)
            if (option.HelpName is null && option is not HelpOption and not VersionOption && option.ValueType != typeof(bool) && !option.ValueType.IsEnum && Nullable.GetUnderlyingType(option.ValueType)?.IsEnum != true)
                option.HelpName = Placeholders.GetValueOrDefault(option.Name, "VALUE");
        foreach (var sub in command.Subcommands) Visit(sub);
    }

    /// <summary>Help text with the executable's file name replaced by <paramref name="usageName"/> and placeholders without angle brackets.</summary>
    public static string Rewrite(string help, string executable, string usageName)
    {
        var renamed = Regex.Replace(help, $@"(?m)^(\s+){Regex.Escape(executable)}(?=\s|$)", m => m.Groups[1].Value + usageName);
        // In a two-column row the gap grows by what the first column lost, so the descriptions stay aligned.
        var lines = renamed.Split('\n').Select(line =>
        {
            var row = Row().Match(line);
            if (!row.Success) return Placeholder().Replace(line, "$1");
            var first = Placeholder().Replace(row.Groups[2].Value, "$1");
            return row.Groups[1].Value + first + row.Groups[3].Value + new string(' ', row.Groups[2].Length - first.Length) + row.Groups[4].Value;
        });
        return string.Join('\n', lines);
    }

    // <DATASET>, <OUT.onnx>, <FILE.cs>: an upper-case placeholder loses its brackets; <Adam|Sgd> style choices keep them.
    [GeneratedRegex(@"<([A-Z][A-Z0-9_]*(?:\.[A-Za-z0-9]+)?)>")]
    private static partial Regex Placeholder();

    // A help row: indent, first column (single spaces inside), a gap of two or more spaces, the description.
    [GeneratedRegex(@"^(\s+)(\S.*?)(\s{2,})(\S.*)$")]
    private static partial Regex Row();

    /// <summary>Whether <paramref name="result"/> asks for help, which is shown even when required options are missing.</summary>
    public static bool IsHelp(ParseResult result) => result.Action is RenamedHelp or HelpAction;

    sealed class RenamedHelp(HelpAction inner, string executable, string usageName) : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            // The default help, written to a buffer and then rewritten: System.CommandLine 2.0 offers no public hook for the usage name.
            var configuration = parseResult.InvocationConfiguration;
            var output = configuration.Output;
            var text = new StringWriter();
            configuration.Output = text;
            try
            {
                inner.Invoke(parseResult);
            }
            finally
            {
                configuration.Output = output;
            }
            output.Write(Rewrite(text.ToString(), executable, usageName));
            return 0;
        }
    }
}

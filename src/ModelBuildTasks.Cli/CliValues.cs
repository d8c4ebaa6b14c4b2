using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace ModelBuildTasks.Cli;

/// <summary>
/// Values on the command line, read the same way by both tools (shared as source with the training
/// add-on). Numbers are read in the invariant culture with a decimal point only: .NET's own parser
/// takes a comma for a thousands separator, so <c>--max-accuracy-drop 0,5</c> meant a budget of 5
/// points, ten times what was asked. And a word that looks like an option (<c>--bogus</c>) is not
/// taken for a file argument.
/// </summary>
static class CliValues
{
    /// <summary>Installs the number parsers and the argument check on every option and argument of <paramref name="command"/> and its subcommands.</summary>
    public static void Configure(Command command)
    {
        foreach (var option in command.Options)
        {
            switch (option)
            {
                case Option<double> real: real.CustomParser = r => Number(r, real.Name, real.DefaultValueFactory, Double, false); break;
                case Option<double?> real: real.CustomParser = r => Number<double?>(r, real.Name, real.DefaultValueFactory, t => Double(t) is var (ok, v) && ok ? (true, v) : (false, null), false); break;
                case Option<int> whole: whole.CustomParser = r => Number(r, whole.Name, whole.DefaultValueFactory, Int, true); break;
                case Option<int?> whole: whole.CustomParser = r => Number<int?>(r, whole.Name, whole.DefaultValueFactory, t => Int(t) is var (ok, v) && ok ? (true, v) : (false, null), true); break;
            }
        }
        // A path or name given as "" (an unset shell variable, say) is a usage error, not an empty path deep inside.
        foreach (var option in command.Options.Where(o => NonEmpty.Contains(o.Name)))
            option.Validators.Add(result =>
            {
                if (result.Tokens.Any(t => string.IsNullOrWhiteSpace(t.Value))) result.AddError($"{option.Name}: an empty value");
            });
        foreach (var argument in command.Arguments)
            argument.Validators.Add(result =>
            {
                if (result.Tokens.Any(t => string.IsNullOrWhiteSpace(t.Value))) result.AddError($"{argument.Name}: an empty value");
                foreach (var token in result.Tokens)
                    if (token.Value.StartsWith("--", StringComparison.Ordinal) && !Path.Exists(token.Value))
                        result.AddError($"unknown option '{token.Value}'");
            });
        foreach (var sub in command.Subcommands) Configure(sub);
    }

    // The options that name a file, folder, identifier or list, which cannot be empty.
    static readonly HashSet<string> NonEmpty = ["--data", "--test-data", "--train-data", "--output", "--report", "--wrapper", "--cache-dir", "--methods",
        "--reference", "--class-name", "--resource-name"];

    static T Number<T>(ArgumentResult result, string option, Func<ArgumentResult, T>? fallback, Func<string, (bool Ok, T Value)> parse, bool whole)
    {
        if (result.Tokens.Count == 0) return fallback is null ? default! : fallback(result);
        var text = result.Tokens[^1].Value;
        if (parse(text) is (true, var value)) return value;
        var withPoint = text.Replace(',', '.');
        result.AddError(text.Contains(',') && parse(withPoint).Ok
            ? $"{option}: '{text}' is not a number; write {withPoint} (a decimal point, not a comma)"
            : $"{option}: '{text}' is not a {(whole ? "whole number" : "finite number")}");
        return default!;
    }

    static (bool, double) Double(string text) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && double.IsFinite(v) ? (true, v) : (false, 0);

    static (bool, int) Int(string text) =>
        int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? (true, v) : (false, 0);
}

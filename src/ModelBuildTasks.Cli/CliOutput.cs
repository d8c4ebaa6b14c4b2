using System.CommandLine;
using Spectre.Console;

namespace ModelBuildTasks.Cli;

/// <summary>How much the CLI says on stderr besides warnings and errors.</summary>
enum Verbosity
{
    /// <summary>Warnings and errors only: no progress, no cache notes.</summary>
    Quiet,
    /// <summary>Progress (a bar on a terminal, a line per candidate otherwise) and cache notes.</summary>
    Normal,
    /// <summary>Normal, plus a line per update (fine-tuning steps, image batches, each candidate's time).</summary>
    Detailed,
}

/// <summary>
/// The global <c>--verbosity</c> and <c>--no-color</c> options, and the console they configure.
/// Both apply to every command (they are recursive); stdout, which carries results, is never
/// silenced: only the notes on stderr are.
/// </summary>
static class CliOutput
{
    /// <summary><c>--verbosity quiet|normal|detailed</c>.</summary>
    public static readonly Option<string> VerbosityOption = new("--verbosity", "-v")
    {
        Description = "quiet (warnings and errors only), normal (progress) or detailed (every progress step).",
        DefaultValueFactory = _ => "normal",
        HelpName = "LEVEL",
        Recursive = true,
    };

    /// <summary><c>--no-color</c>; the <c>NO_COLOR</c> environment variable does the same.</summary>
    public static readonly Option<bool> NoColorOption = new("--no-color")
    {
        Description = "No colors or styles in terminal output (also when NO_COLOR is set).",
        Recursive = true,
    };

    /// <summary>The verbosity asked for.</summary>
    public static Verbosity Verbosity { get; private set; } = Verbosity.Normal;

    /// <summary>Whether output stays plain (no ANSI colors).</summary>
    public static bool NoColor { get; private set; }

    /// <summary>Reads the global options; a bad level is a usage error with a code.</summary>
    public static void Configure(ParseResult result)
    {
        Verbosity = result.GetValue(VerbosityOption)?.ToLowerInvariant() switch
        {
            "q" or "quiet" => Verbosity.Quiet,
            "n" or "normal" or null => Verbosity.Normal,
            "d" or "detailed" => Verbosity.Detailed,
            var other => throw new ModelBuildException(ErrorCodes.InvalidSetting, $"--verbosity must be quiet, normal or detailed, not '{other}'"),
        };
        NoColor = result.GetValue(NoColorOption) || Environment.GetEnvironmentVariable("NO_COLOR") is { Length: > 0 };
        // Tables written through AnsiConsole follow the same setting.
        AnsiConsole.Console = Create(Console.Out);
        // Redirected, Spectre assumes 80 columns and wraps table cells inside their values
        // (narrow_steps=13 became "narrow_steps=1" over "3"); a file or pipe has no width to keep to.
        if (Console.IsOutputRedirected) AnsiConsole.Console.Profile.Width = 1000;
    }

    /// <summary>A Spectre console on <paramref name="writer"/> that honours <see cref="NoColor"/>.</summary>
    /// <param name="writer">Where it writes.</param>
    /// <param name="terminal">
    /// The caller knows <paramref name="writer"/> is a terminal. Spectre decides interactivity from
    /// stdout and stdin, so a run with stdout piped (<c>--json | jq</c>) lost the live bar on stderr.
    /// </param>
    public static IAnsiConsole Create(TextWriter writer, bool terminal = false) => AnsiConsole.Create(new AnsiConsoleSettings
    {
        Out = new AnsiConsoleOutput(writer),
        ColorSystem = NoColor ? ColorSystemSupport.NoColors : ColorSystemSupport.Detect,
        Interactive = terminal ? InteractionSupport.Yes : InteractionSupport.Detect,
        Ansi = terminal ? AnsiSupport.Yes : AnsiSupport.Detect,
    });

    /// <summary>A note on stderr (cache hits, progress lines), unless quiet.</summary>
    public static void Info(string line)
    {
        if (Verbosity != Verbosity.Quiet) Console.Error.WriteLine(line);
    }
}

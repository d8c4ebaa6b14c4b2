using System.Text.Json;
using System.Text.Json.Serialization;

namespace ModelBuildTasks.Cli;

/// <summary>Writes the <c>--json</c> output: one object on stdout, snake_case names, dictionary keys as they are.</summary>
static class JsonOutput
{
    static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public static void Write<T>(T value) => Console.Out.WriteLine(JsonSerializer.Serialize(value, Options));
}

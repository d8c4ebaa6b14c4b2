using Microsoft.ML.OnnxRuntime;

namespace ModelBuildTasks.Cli;

/// <summary>
/// ONNX Runtime writes its own warnings (unused initializers, graph rewrites) straight to stderr,
/// where they break the CLI's one-line-per-diagnostic contract. Its errors become exceptions, which
/// the CLI reports with a code, so only fatal native messages are let through.
/// </summary>
static class OrtLogging
{
    public static void Quiet()
    {
        var options = new EnvironmentCreationOptions { logLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL, logId = "dotnet-compress-model" };
        OrtEnv.CreateInstanceWithOptions(ref options);
    }
}

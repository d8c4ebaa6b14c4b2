using System.CommandLine;
using ModelBuildTasks.Container;
using ModelBuildTasks.Graph;
using ModelBuildTasks.Packaging;

namespace ModelBuildTasks.Cli.Commands;

/// <summary>
/// <c>export CONTAINER -o OUT.onnx</c>: the ONNX model a <c>.cmodel</c> container decodes to, the
/// very bytes the runtime hands to ONNX Runtime, so that tools such as Netron can show what the app
/// runs. The file is written atomically (temporary file, then rename): an interrupted export never
/// leaves a truncated model behind.
/// </summary>
static class ExportCommand
{
    public static Command Create()
    {
        var container = new Argument<string>("CONTAINER") { Description = "The .cmodel container (written by compress or the build)." };
        var output = new Option<string>("--output", "-o") { Description = "The ONNX file to write.", Required = true, HelpName = "OUT.onnx" };
        var command = new Command("export", "Write the ONNX model a .cmodel container holds (decoded), e.g. to view it in Netron.") { container, output };
        command.SetAction(result => ExitCodes.Guard(() =>
        {
            var path = result.GetValue(container)!;
            var outputPath = result.GetValue(output)!;
            OutputPaths.CheckWritable(outputPath, "--output", new OutputPaths.Inputs([path]));
            var bytes = InputFile.ReadAllBytes(path, ContainerLimits.MaxFileLength, ErrorCodes.ModelNotFound, ErrorCodes.InvalidContainer);
            if (!ModelContainer.HasMagic(bytes) && !ModelFile.IsContainerName(path) && IsOnnx(bytes))
                throw new ModelBuildException(ErrorCodes.InvalidContainer, "an ONNX model, not a .cmodel container: it needs no export", path);
            var onnx = ContainerPackaging.ToOnnx(bytes, path);
            AtomicFile.WriteAllBytes(outputPath, onnx); // a refusal after the check is still MBT1305 (ExitCodes)
            Console.WriteLine($"Wrote {outputPath} ({Units.Bytes(onnx.Length)} of ONNX from {Units.Bytes(bytes.Length)} of container)");
            return ExitCodes.Ok;
        }));
        return command;
    }

    static bool IsOnnx(byte[] bytes)
    {
        try
        {
            return bytes.Length > 0 && Onnx.OnnxModelFile.Parse(bytes).Graph is not null;
        }
        catch (ModelBuildException)
        {
            return false;
        }
    }
}

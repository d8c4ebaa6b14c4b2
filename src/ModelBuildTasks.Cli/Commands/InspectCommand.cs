using System.CommandLine;
using System.Globalization;
using ModelBuildTasks.Container;
using ModelBuildTasks.Graph;
using ModelBuildTasks.Inspection;

namespace ModelBuildTasks.Cli.Commands;

/// <summary><c>inspect MODEL [--json]</c>: what a model is made of, and for a container what its metadata records.</summary>
static class InspectCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("MODEL") { Description = "The ONNX model or .cmodel container." };
        var json = new Option<bool>("--json") { Description = "Write one JSON object to stdout." };
        var command = new Command("inspect", "Show a model's inputs, outputs, operators, parameters and size; for a .cmodel container also how it was compressed and what it measured.") { model, json };
        command.SetAction(result => ExitCodes.Guard(() =>
        {
            var path = result.GetValue(model)!;
            var loaded = ModelFile.Load(path);
            var summary = ModelSummary.Of(loaded, new FileInfo(path).Length);
            // ModelFile.Load has read and checked the file; a container's metadata is what the app's class reports.
            var bytes = File.ReadAllBytes(path);
            var container = ModelContainer.HasMagic(bytes) ? ModelContainer.Read(bytes) : null;
            // What loading changed, so the shapes and types shown are not taken for the file's own. A container holds the
            // converted model already (its keys record what compressing its original converted).
            string[] converted = container is not null ? [] : [
                .. loaded.Metadata.ContainsKey(Passes.ChannelsFirstInput.MetadataKey) ? ["N x H x W x C input to N x C x H x W"] : Array.Empty<string>(),
                .. loaded.Metadata.ContainsKey(Passes.Float16ToFloat.MetadataKey) ? ["float16 to float"] : Array.Empty<string>(),
                .. loaded.Metadata.ContainsKey(Passes.PixelInput.MetadataKey) ? ["uint8 input cast to float: a float input of pixel values"] : Array.Empty<string>()];
            var metadata = container is null ? null : ContainerMetadata.Parse(container.MetadataJson);
            if (result.GetValue(json))
                JsonOutput.Write(new { model = path, summary.IrVersion, summary.Opset, summary.Producer, summary.Inputs, summary.Outputs, summary.Ops, summary.Parameters, summary.NonzeroParameters, summary.Bytes, summary.WeightBytes, summary.Unsupported, Converted = converted, ContainerVersion = container?.Version, Container = metadata });
            else Print(path, summary, container?.Version, metadata, converted);
            return ExitCodes.Ok;
        }));
        return command;
    }

    static void Print(string path, ModelSummary s, uint? containerVersion, ContainerMetadata? metadata, string[] converted)
    {
        static string Tensor(TensorSummary t) => $"{t.Name}  {t.Type} [{string.Join(",", t.Shape)}]";
        static string Pct(double? v) => v is { } x ? (x * 100).ToString("0.00", CultureInfo.InvariantCulture) + "%" : "n/a";
        var onnx = $"ONNX IR {s.IrVersion}, opset {s.Opset}{(s.Producer.Length > 0 ? $", from {s.Producer}" : "")}";
        Console.WriteLine($"Model        {path}");
        Console.WriteLine($"Format       {(containerVersion is { } v ? $".cmodel container, version {v}, holding {onnx}" : onnx)}");
        if (converted.Length > 0) Console.WriteLine($"Converted    {string.Join("; ", converted)}, at load, as compress takes the model");
        foreach (var i in s.Inputs) Console.WriteLine($"Input        {Tensor(i)}");
        foreach (var o in s.Outputs) Console.WriteLine($"Output       {Tensor(o)}");
        Console.WriteLine($"Parameters   {s.Parameters:N0}, {s.NonzeroParameters:N0} nonzero ({Units.Bytes(s.WeightBytes)} of weights)");
        Console.WriteLine($"File         {Units.Bytes(s.Bytes)}");
        Console.WriteLine($"Operators    {string.Join(", ", s.Ops.Select(kv => $"{kv.Key} {kv.Value}"))}");
        Console.WriteLine(s.Unsupported.Count == 0
            ? "Unsupported  none"
            : "Unsupported  " + string.Join(", ", s.Unsupported.Select(u => $"{(u.Domain.Length > 0 ? u.Domain + "." : "")}{u.OpType} (node '{u.NodeName}'{(u.Count > 1 ? $" and {u.Count - 1} more" : "")})")));
        if (metadata is null) return;
        var a = metadata.Accuracy;
        Console.WriteLine($"Compression  {string.Join(", ", metadata.Compression.Select(kv => $"{kv.Key}={kv.Value}"))}");
        Console.WriteLine($"Validation   {a.Measure ?? "accuracy"} {Pct(a.Baseline)} -> {Pct(a.Final)}{(a.Test is null ? "" : $"; test {a.TestMeasure ?? "accuracy"} {Pct(a.Test)}")}");
        Console.WriteLine($"Output kind  {metadata.OutputKind}{(metadata.Labels.Count > 0 ? $", labels {string.Join(", ", metadata.Labels)}" : "")}");
        Console.WriteLine($"Preprocess   {metadata.Preprocess}");
        // An image file's own, where the validation data were floats of another range (what PredictImage applies).
        if (metadata.ImagePreprocess is { } forImages) Console.WriteLine($"Images       {forImages}");
        Console.WriteLine($"Engine       {metadata.EngineVersion}, from source sha256 {metadata.SourceSha256}");
    }
}

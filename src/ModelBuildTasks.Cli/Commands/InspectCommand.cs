using System.CommandLine;
using ModelBuildTasks.Graph;
using ModelBuildTasks.Inspection;

namespace ModelBuildTasks.Cli.Commands;

/// <summary><c>inspect MODEL [--json]</c>: what a model is made of.</summary>
static class InspectCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("MODEL") { Description = "The ONNX model or .cmodel container." };
        var json = new Option<bool>("--json") { Description = "Write one JSON object to stdout." };
        var command = new Command("inspect", "Show a model's inputs, outputs, operators, parameters and size.") { model, json };
        command.SetAction(result => ExitCodes.Guard(() =>
        {
            var path = result.GetValue(model)!;
            var summary = ModelSummary.Of(ModelFile.Load(path), new FileInfo(path).Length);
            if (result.GetValue(json)) JsonOutput.Write(new { model = path, summary.IrVersion, summary.Opset, summary.Producer, summary.Inputs, summary.Outputs, summary.Ops, summary.Parameters, summary.Bytes, summary.WeightBytes, summary.Unsupported });
            else Print(path, summary);
            return ExitCodes.Ok;
        }));
        return command;
    }

    static void Print(string path, ModelSummary s)
    {
        static string Tensor(TensorSummary t) => $"{t.Name}  {t.Type} [{string.Join(",", t.Shape)}]";
        Console.WriteLine($"Model        {path}");
        Console.WriteLine($"Format       ONNX IR {s.IrVersion}, opset {s.Opset}{(s.Producer.Length > 0 ? $", from {s.Producer}" : "")}");
        foreach (var i in s.Inputs) Console.WriteLine($"Input        {Tensor(i)}");
        foreach (var o in s.Outputs) Console.WriteLine($"Output       {Tensor(o)}");
        Console.WriteLine($"Parameters   {s.Parameters:N0} ({Units.Bytes(s.WeightBytes)} of weights)");
        Console.WriteLine($"File         {Units.Bytes(s.Bytes)}");
        Console.WriteLine($"Operators    {string.Join(", ", s.Ops.Select(kv => $"{kv.Key} {kv.Value}"))}");
        Console.WriteLine(s.Unsupported.Count == 0
            ? "Unsupported  none"
            : "Unsupported  " + string.Join(", ", s.Unsupported.Select(u => $"{(u.Domain.Length > 0 ? u.Domain + "." : "")}{u.OpType} (node '{u.NodeName}'{(u.Count > 1 ? $" and {u.Count - 1} more" : "")})")));
    }
}

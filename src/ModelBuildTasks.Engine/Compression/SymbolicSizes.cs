using ModelBuildTasks.Data;
using ModelBuildTasks.Graph;

namespace ModelBuildTasks.Compression;

/// <summary>
/// Sizes a model leaves symbolic besides the batch, made known. A model exported with its image size dynamic
/// (torch.onnx.export's dynamic_axes on H and W) takes any size; the engine needs one to calibrate, slim and
/// run it, and the validation images give it. An output declared with a symbolic size ([N, C]) that shape
/// inference knows gets that size: the app reads each image's outputs by the declared size.
/// </summary>
public static class SymbolicSizes
{
    /// <summary>
    /// Fixes the symbolic C, H and W of <paramref name="model"/>'s N x C x H x W input to <paramref name="images"/>' shape;
    /// the warning saying so, or null when nothing was symbolic. A known size that differs from the images' stays, and
    /// the runner's shape check names the mismatch.
    /// </summary>
    public static string? FixInput(OnnxModel model, ImageDataset images)
    {
        var input = model.Graph.Inputs[0];
        if (input.Shape is not { Rank: 4 } shape || shape.Dims.Skip(1).All(d => d.IsKnown)) return null;
        long[] sizes = [images.Channels, images.Height, images.Width];
        var fixedDims = shape.Dims.Select((d, axis) => axis == 0 || d.IsKnown ? d : Dim.Of(sizes[axis - 1])).ToList();
        model.Graph.Inputs[0] = input with { Shape = new TensorShape(fixedDims) };
        return $"the model's input '{input.Name}' is [{string.Join(",", shape.Dims)}]: its size is fixed to the validation images', "
            + $"[{string.Join(",", fixedDims)}], so the compressed model and its generated class take {images.Channels}x{images.Height}x{images.Width} images only";
    }

    /// <summary>Gives each output's symbolic sizes after the batch the ones shape inference finds (with the input's size known).</summary>
    public static void FixOutputs(OnnxModel model)
    {
        var graph = model.Graph;
        if (graph.Outputs.All(o => o.Shape is not { } s || s.Dims.Skip(1).All(d => d.IsKnown))) return;
        var inferred = Shapes.ShapeInference.Infer(graph).Values;
        for (var i = 0; i < graph.Outputs.Count; i++)
        {
            if (graph.Outputs[i].Shape is not { } declared || !inferred.TryGetValue(graph.Outputs[i].Name, out var info) || info.Shape is not { } known || known.Rank != declared.Rank) continue;
            graph.Outputs[i] = graph.Outputs[i] with { Shape = new TensorShape(declared.Dims.Select((d, axis) => axis == 0 || d.IsKnown || !known[axis].IsKnown ? d : known[axis])) };
        }
    }
}

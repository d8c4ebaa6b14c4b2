using ModelBuildTasks.Data;
using ModelBuildTasks.Graph;

namespace ModelBuildTasks.Compression;

/// <summary>
/// A model exported with its image size dynamic (torch.onnx.export's dynamic_axes on H and W) takes
/// any size; the engine needs one to calibrate, slim and run it, and the validation images give it.
/// Only symbolic dimensions after the batch are fixed: a known size that differs from the images'
/// stays, and the runner's shape check names the mismatch.
/// </summary>
public static class InputSizeFromData
{
    /// <summary>Fixes the symbolic C, H and W of <paramref name="model"/>'s N x C x H x W input to <paramref name="images"/>' shape; the warning saying so, or null when nothing was symbolic.</summary>
    public static string? Fix(OnnxModel model, ImageDataset images)
    {
        var input = model.Graph.Inputs[0];
        if (input.Shape is not { Rank: 4 } shape || shape.Dims.Skip(1).All(d => d.IsKnown)) return null;
        long[] sizes = [images.Channels, images.Height, images.Width];
        var fixedDims = shape.Dims.Select((d, axis) => axis == 0 || d.IsKnown ? d : Dim.Of(sizes[axis - 1])).ToList();
        model.Graph.Inputs[0] = input with { Shape = new TensorShape(fixedDims) };
        return $"the model's input '{input.Name}' is [{string.Join(",", shape.Dims)}]: its size is fixed to the validation images', "
            + $"[{string.Join(",", fixedDims)}], so the compressed model and its generated class take {images.Channels}x{images.Height}x{images.Width} images only";
    }
}

using ModelBuildTasks.Graph;

namespace ModelBuildTasks.Passes;

/// <summary>
/// Turns an N x H x W x C input (TensorFlow's layout, as tf2onnx exports it) that the graph transposes
/// to N x C x H x W before anything else reads it into an N x C x H x W input, and drops the Transpose.
/// Everything after import (datasets, calibration, training, the shipped model and its generated class)
/// then speaks the one image layout the product uses, C x H x W; the change is exact (a permutation).
/// </summary>
public static class ChannelsFirstInput
{
    /// <summary>The metadata key that records the conversion (value: the original layout), so reports can say the shipped model takes C x H x W.</summary>
    public const string MetadataKey = "converted_input_layout";

    /// <summary>Converts the input when it is N x H x W x C and only Transposes with perm [0, 3, 1, 2] read it; returns whether it did.</summary>
    public static bool Apply(OnnxModel model)
    {
        var graph = model.Graph;
        if (graph.Inputs.Count != 1 || graph.Inputs[0] is not { Shape: { Rank: 4 } shape } input) return false;
        if (InputReaders.OnlyAdapters(graph, input.Name, IsToChannelsFirst) is not { } transposes) return false;

        graph.Inputs[0] = input with { Shape = new TensorShape([shape[0], shape[3], shape[1], shape[2]]) };
        InputReaders.Bypass(graph, transposes, input.Name);
        model.Metadata[MetadataKey] = "NHWC";
        return true;
    }

    static bool IsToChannelsFirst(Node node) =>
        node.OpType == "Transpose" && (node.Domain is "" or "ai.onnx") && node.GetInts("perm") is [0, 3, 1, 2];
}

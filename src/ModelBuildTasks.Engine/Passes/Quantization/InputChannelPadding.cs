using ModelBuildTasks.Graph;

namespace ModelBuildTasks.Passes.Quantization;

/// <summary>
/// Pads the model's input with zero channels up to a multiple of <see cref="Multiple"/> in front of its
/// QuantizeLinear, and the first convolutions' int8 weights with zeros to match: the same result, exactly.
/// ONNX Runtime runs an int8 convolution on its fast kernels (MLAS's symmetric convolution, no im2col copy)
/// only when its input channels are a multiple of 4; a grey (1 channel) or RGB (3 channels) first layer
/// otherwise takes im2col and a generic GEMM with a 9- or 27-deep dot product, which made it the slowest layer
/// of the 28x28 samples at batch 64 (a quarter of the ResNet sample's time, though it does 4% of the work).
/// </summary>
public static class InputChannelPadding
{
    /// <summary>The input channel multiple ONNX Runtime's symmetric int8 convolution kernels need on every CPU.</summary>
    public const int Multiple = 4;

    /// <summary>
    /// Pads every float N x C x H x W graph input whose only reader is a QuantizeLinear/DequantizeLinear pair read
    /// only by single-group Convs on int8 weights (what <see cref="QdqQuantizer"/> emits). Returns how many inputs were padded.
    /// </summary>
    public static int Apply(ModelGraph graph)
    {
        var padded = 0;
        foreach (var input in graph.Inputs.Where(i => i.Type == ElementType.Float && i.Shape is { Rank: 4 } s && s[1].IsKnown && s[1].Value % Multiple != 0).ToList())
        {
            var channels = input.Shape![1].Value;
            if (FirstConvolutions(graph, input.Name, channels) is not { } convs) continue;
            var extra = (int)(Multiple - channels % Multiple);
            var pads = graph.AddInitializer(Tensor.FromInt64s(graph.UniqueName(input.Name + "_channel_pads"), [8], [0, 0, 0, 0, 0, extra, 0, 0]));
            var output = graph.UniqueName(input.Name + "_channels_padded");
            var quantize = graph.Consumers(input.Name).Single();
            quantize.Inputs[0] = output;
            graph.Nodes.Insert(graph.Nodes.IndexOf(quantize), new Node(output, "Pad", [input.Name, pads], [output]));
            foreach (var weights in convs.Select(c => graph.FindInitializer(graph.Producer(c.Inputs[1])!.Inputs[0])!).Distinct())
                graph.Initializers[weights.Name] = PadInputChannels(weights, extra);
            padded++;
        }
        return padded;
    }

    // The Convs reading `input` through exactly one QuantizeLinear -> DequantizeLinear, or null when anything else reads it.
    static List<Node>? FirstConvolutions(ModelGraph graph, string input, long channels)
    {
        if (graph.Consumers(input).ToList() is not [{ OpType: "QuantizeLinear" } quantize]) return null;
        if (graph.Consumers(quantize.Outputs[0]).ToList() is not [{ OpType: "DequantizeLinear" } dequantize] || graph.IsOutput(quantize.Outputs[0])) return null;
        var readers = graph.Consumers(dequantize.Outputs[0]).ToList();
        if (readers.Count == 0 || graph.IsOutput(dequantize.Outputs[0])) return null;
        foreach (var conv in readers)
        {
            if (conv.OpType != "Conv" || conv.GetInt("group", 1) != 1 || conv.Inputs[0] != dequantize.Outputs[0]) return null;
            if (graph.Producer(conv.Inputs[1]) is not { OpType: "DequantizeLinear" } weightDq
                || graph.FindInitializer(weightDq.Inputs[0]) is not { Type: ElementType.Int8, Dims: [_, var c, ..] } || c != channels
                || graph.Consumers(weightDq.Inputs[0]).Count() != 1)
                return null;
        }
        return readers;
    }

    // O x C x k... int8 weights -> O x (C + extra) x k..., the new input channels' weights zero.
    static Tensor PadInputChannels(Tensor weights, int extra)
    {
        var outputs = (int)weights.Dims[0];
        var channels = (int)weights.Dims[1];
        var kernel = (int)(weights.ElementCount / outputs / channels);
        var data = new byte[outputs * (channels + extra) * kernel];
        for (var o = 0; o < outputs; o++)
            Array.Copy(weights.Data, o * channels * kernel, data, o * (channels + extra) * kernel, channels * kernel);
        var dims = weights.Dims.ToArray();
        dims[1] = channels + extra;
        return new Tensor(weights.Name, ElementType.Int8, dims, data);
    }
}

using ModelBuildTasks.Graph;

namespace ModelBuildTasks.Passes.Quantization;

/// <summary>
/// Lays out a grey or RGB input for ONNX Runtime's fast int8 convolutions (MLAS's symmetric kernels, no im2col
/// copy), which need input channels in multiples of <see cref="Multiple"/>; the result is the same, exactly.
/// A first layer with few input channels is otherwise slow out of all proportion to its work: on 1 channel it
/// took im2col and a 9-deep GEMM (a quarter of the ResNet sample's time at batch 64 for 4% of its work), and
/// even padded to 4 channels it still cost 11% of the VGG sample's time for 1% of its multiply-adds, because the
/// kernel pays per input pixel and kernel position, not per multiply-add.
/// <list type="bullet">
/// <item>When the kernel window holds at most <see cref="MaxPatchChannels"/> values (a 3x3 kernel on grey or RGB), a
/// float Conv with one-hot kernels copies each window into channels before the QuantizeLinear (patches), and the
/// first convolutions become 1x1 convolutions on those channels: one pixel per output, a 12-deep dot product. The
/// windows' padding is 0.0 there, which quantizes to the zero point the int8 kernel would have padded with. The
/// VGG sample's first layer went from 12 to 8 microseconds per image (all of it 2-5% faster at batch 1 and 32).</item>
/// <item>Otherwise (a 7x7 RGB stem: 147 values) the input gets zero channels up to the multiple (a Pad) and the
/// weights zero input channels to match.</item>
/// </list>
/// </summary>
public static class InputPatches
{
    /// <summary>The input channel multiple ONNX Runtime's symmetric int8 convolution kernels need on every CPU.</summary>
    public const int Multiple = 4;

    /// <summary>The largest kernel window (input channels x kernel height x width) copied into patches.</summary>
    public const int MaxPatchChannels = 32;

    /// <summary>
    /// Rewrites every float N x C x H x W graph input whose channels are not a multiple of <see cref="Multiple"/> and whose
    /// only reader is a QuantizeLinear/DequantizeLinear pair read only by single-group Convs on int8 weights (what
    /// <see cref="QdqQuantizer"/> emits). Returns how many inputs were rewritten.
    /// </summary>
    public static int Apply(ModelGraph graph)
    {
        var rewritten = 0;
        foreach (var input in graph.Inputs.Where(i => i.Type == ElementType.Float && i.Shape is { Rank: 4 } s && s[1].IsKnown && s[1].Value % Multiple != 0).ToList())
        {
            var channels = input.Shape![1].Value;
            if (FirstConvolutions(graph, input.Name, channels) is not { } convs) continue;
            var quantize = graph.Consumers(input.Name).Single();
            if (Window(graph, convs) is { } window && channels * window.Height * window.Width <= MaxPatchChannels) CopyPatches(graph, input.Name, quantize, convs, (int)channels, window);
            else PadChannels(graph, input.Name, quantize, convs, (int)channels);
            rewritten++;
        }
        return rewritten;
    }

    /// <summary>Whether <paramref name="node"/> is the float Conv that copies a graph input's windows into patches: the one float Conv of a quantized graph meant to stay float.</summary>
    public static bool IsPatchCopy(ModelGraph graph, Node node)
    {
        if (node is not { OpType: "Conv", Inputs: [var input, var kernels] } || !graph.Inputs.Any(i => i.Name == input)) return false;
        if (graph.FindInitializer(kernels) is not { Type: ElementType.Float, Dims: [var patches, ..] } k) return false;
        var values = k.Floats;
        var window = values.Length / (int)patches;
        for (var p = 0; p < patches; p++)
        {
            var kernel = values.Slice(p * window, window);
            if (kernel.ContainsAnyExcept(0f, 1f) || kernel.Count(1f) > 1) return false;
        }
        return true;
    }

    // The kernel window all first convolutions share, with its strides and pads, or null when they differ or dilate.
    static ConvWindow? Window(ModelGraph graph, List<Node> convs)
    {
        var windows = convs.Select(c => c.GetString("auto_pad", "NOTSET") is "NOTSET"
                && (c.GetInts("kernel_shape") ?? WeightTensors(graph, [c]).Single().Dims[2..]) is [var h, var w]
                && (c.GetInts("dilations") ?? [1, 1]).All(d => d == 1)
            ? new ConvWindow(h, w, c.GetInts("strides") ?? [1, 1], c.GetInts("pads") ?? [0, 0, 0, 0])
            : null).ToList();
        return windows.All(w => w is not null && w.Equals(windows[0])) ? windows[0] : null;
    }

    sealed record ConvWindow(long Height, long Width, long[] Strides, long[] Pads)
    {
        public bool Equals(ConvWindow? other) => other is not null && Height == other.Height && Width == other.Width
            && Strides.SequenceEqual(other.Strides) && Pads.SequenceEqual(other.Pads);

        public override int GetHashCode() => HashCode.Combine(Height, Width);
    }

    static void CopyPatches(ModelGraph graph, string input, Node quantize, List<Node> convs, int channels, ConvWindow window)
    {
        var values = channels * (int)(window.Height * window.Width);
        var patches = values + (Multiple - values % Multiple) % Multiple;
        // Patch channel k copies input channel k / (h w) at window position k % (h w): a one-hot kernel, the rest zero.
        var oneHot = new float[patches * values];
        for (var k = 0; k < values; k++) oneHot[k * values + k] = 1;
        var kernels = graph.AddInitializer(Tensor.FromFloats(graph.UniqueName(input + "_patch_kernels"), [patches, channels, window.Height, window.Width], oneHot));
        var output = graph.UniqueName(input + "_patches");
        var copy = new Node(output, "Conv", [input, kernels], [output]);
        copy.Attributes["kernel_shape"] = NodeAttribute.Of(window.Height, window.Width);
        copy.Attributes["strides"] = NodeAttribute.Of(window.Strides);
        copy.Attributes["pads"] = NodeAttribute.Of(window.Pads);
        quantize.Inputs[0] = output;
        graph.Nodes.Insert(graph.Nodes.IndexOf(quantize), copy);
        foreach (var conv in convs)
        {
            conv.Attributes["kernel_shape"] = NodeAttribute.Of(1L, 1L);
            conv.Attributes["strides"] = NodeAttribute.Of(1L, 1L);
            conv.Attributes["pads"] = NodeAttribute.Of(0L, 0L, 0L, 0L);
        }
        // O x C x h x w int8 weights, in the one-hot order, are O x (C h w) x 1 x 1; padded to the multiple with zeros.
        foreach (var weights in WeightTensors(graph, convs))
            graph.Initializers[weights.Name] = Regrouped(weights, values, patches, [1, 1]);
    }

    static void PadChannels(ModelGraph graph, string input, Node quantize, List<Node> convs, int channels)
    {
        var extra = (Multiple - channels % Multiple) % Multiple;
        var pads = graph.AddInitializer(Tensor.FromInt64s(graph.UniqueName(input + "_channel_pads"), [8], [0, 0, 0, 0, 0, extra, 0, 0]));
        var output = graph.UniqueName(input + "_channels_padded");
        quantize.Inputs[0] = output;
        graph.Nodes.Insert(graph.Nodes.IndexOf(quantize), new Node(output, "Pad", [input, pads], [output]));
        foreach (var weights in WeightTensors(graph, convs))
        {
            var kernel = weights.Dims.Skip(2).ToArray();
            var window = (int)kernel.Aggregate(1L, (a, b) => a * b);
            graph.Initializers[weights.Name] = Regrouped(weights, channels * window, (channels + extra) * window, kernel);
        }
    }

    static IEnumerable<Tensor> WeightTensors(ModelGraph graph, List<Node> convs) =>
        convs.Select(c => graph.FindInitializer(graph.Producer(c.Inputs[1])!.Inputs[0])!).Distinct();

    // Each output's `values` int8 weights, followed by zeros up to `width`: O x width x kernel.
    static Tensor Regrouped(Tensor weights, int values, int width, long[] kernel)
    {
        var outputs = (int)weights.Dims[0];
        var data = new byte[outputs * width];
        for (var o = 0; o < outputs; o++) Array.Copy(weights.Data, o * values, data, o * width, values);
        var window = (int)kernel.Aggregate(1L, (a, b) => a * b);
        return new Tensor(weights.Name, ElementType.Int8, [outputs, width / window, .. kernel], data);
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
}

using ModelBuildTasks.Graph;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;
using TorchTensor = TorchSharp.torch.Tensor;

namespace ModelBuildTasks.Training;

/// <summary>The supported ONNX operators, each implemented with TorchSharp with ONNX's exact semantics.</summary>
static class TorchOps
{
    public static TorchTensor[] Run(Node node, IReadOnlyDictionary<string, TorchTensor> live, bool training, long opset)
    {
        TorchTensor In(int i) => live[node.Inputs[i]];
        TorchTensor? Opt(int i) => node.Input(i) is { } name ? live[name] : null;
        switch (node.OpType)
        {
            case "Conv": return [Conv(node, In(0), In(1), Opt(2))];
            case "BatchNormalization":
            {
                // ONNX momentum weighs the running value (0.9); PyTorch's weighs the batch (0.1).
                var momentum = 1.0 - node.GetFloat("momentum", 0.9f);
                return [F.batch_norm(In(0), In(3), In(4), In(1), In(2), training, momentum, node.GetFloat("epsilon", 1e-5f))];
            }
            case "Relu": return [F.relu(In(0))];
            case "LeakyRelu": return [F.leaky_relu(In(0), node.GetFloat("alpha", 0.01f))];
            case "Sigmoid": return [torch.sigmoid(In(0))];
            case "HardSigmoid": return [torch.clamp(In(0) * node.GetFloat("alpha", 0.2f) + node.GetFloat("beta", 0.5f), 0, 1)];
            case "HardSwish": return [F.hardswish(In(0))];
            case "Clip": return [Clip(node, In(0), Opt(1), Opt(2), opset)];
            case "Softmax": return [Softmax(node, In(0), opset)];
            case "LogSoftmax": return [Softmax(node, In(0), opset).log()];
            case "Squeeze" or "Unsqueeze":
            {
                // The engine's shape rule gives the axes (an attribute before opset 13, an input from 13).
                var x = In(0);
                var axes = node.GetInts("axes") ?? (Opt(1) is { } a ? a.data<long>().ToArray() : null);
                if (axes is null) throw new ModelBuildException(ErrorCodes.UnsupportedOperator, $"{node} has no axes and cannot be trained");
                var squeeze = node.OpType == "Squeeze";
                var rank = (int)x.dim() + (squeeze ? 0 : axes.Length);
                var dims = axes.Select(d => d < 0 ? d + rank : d).Order().ToArray();
                if (squeeze) return [x.reshape(x.shape.Where((_, i) => !dims.Contains(i)).ToArray())];
                foreach (var d in dims) x = x.unsqueeze(d);
                return [x];
            }
            case "Identity": return [In(0)];
            case "Dropout":
            {
                var ratio = Opt(1) is { } r ? r.item<float>() : node.GetFloat("ratio", 0.5f);
                return [F.dropout(In(0), ratio, training)];
            }
            case "MaxPool": return [Pool(node, In(0), max: true)];
            case "AveragePool": return [Pool(node, In(0), max: false)];
            case "GlobalAveragePool": return [In(0).mean(Enumerable.Range(2, (int)In(0).dim() - 2).Select(i => (long)i).ToArray(), keepdim: true)];
            case "GlobalMaxPool": return [In(0).amax(Enumerable.Range(2, (int)In(0).dim() - 2).Select(i => (long)i).ToArray(), keepdim: true)];
            case "ReduceMean":
            {
                var x = In(0);
                var axes = Shapes.OperatorRules.ReduceAxes(node, name => live.TryGetValue(name, out var t) ? ToInt64Tensor(t) : null, (int)x.dim())!;
                return [axes.Length == 0 ? x : x.mean(axes, keepdim: node.GetInt("keepdims", 1) == 1)];
            }
            case "Transpose":
            {
                var x = In(0);
                return [x.permute(node.GetInts("perm") ?? Enumerable.Range(0, (int)x.dim()).Reverse().Select(i => (long)i).ToArray())];
            }
            case "Split":
            {
                var x = In(0);
                var axis = node.GetInt("axis", 0);
                if (axis < 0) axis += x.dim();
                return x.split(Shapes.OperatorRules.SplitSizes(node, name => ToInt64Tensor(live[name]), x.shape[axis]), axis);
            }
            case "Slice": return [Slice(node, In(0), live)];
            case "Add": return [In(0) + In(1)];
            case "Mul": return [In(0) * In(1)];
            case "Div": return [In(0) / In(1)];
            case "PRelu": return [torch.where(In(0) >= 0, In(0), In(0) * In(1))];
            case "Concat": return [torch.cat(node.Inputs.Select(n => live[n]).ToList(), node.GetInt("axis", 1))];
            case "Flatten":
            {
                var x = In(0);
                var axis = node.GetInt("axis", 1);
                if (axis < 0) axis += x.dim();
                var outer = x.shape.Take((int)axis).Aggregate(1L, (a, b) => a * b);
                return [x.reshape(outer, -1)];
            }
            case "Reshape":
            {
                var x = In(0);
                var shape = In(1).data<long>().ToArray();
                if (node.GetInt("allowzero", 0) == 0)
                    for (var i = 0; i < shape.Length; i++) if (shape[i] == 0) shape[i] = x.shape[i];
                return [x.reshape(shape)];
            }
            case "Gemm": return [Gemm(node, In(0), In(1), Opt(2))];
            case "MatMul": return [torch.matmul(In(0), In(1))];
            case "Pad": return [Pad(node, In(0), Opt(1), Opt(2), Opt(3))];
            case "Constant": return [ConstantTensor(node)];
            default: throw new ModelBuildException(ErrorCodes.UnsupportedOperator, $"{node} cannot be trained");
        }
    }

    static TorchTensor Conv(Node node, TorchTensor x, TorchTensor w, TorchTensor? b)
    {
        var spatial = (int)w.dim() - 2;
        var strides = node.GetInts("strides") ?? Ones(spatial);
        var dilations = node.GetInts("dilations") ?? Ones(spatial);
        var kernel = w.shape.Skip(2).ToArray();
        var pads = ExplicitPads(node, x, kernel, strides, dilations);
        var (begin, end) = (pads[..spatial], pads[spatial..]);
        if (!begin.SequenceEqual(end))
        {
            x = F.pad(x, TorchPadOrder(pads), PaddingModes.Constant, 0);
            begin = new long[spatial];
        }
        var group = node.GetInt("group", 1);
        return spatial switch
        {
            1 => F.conv1d(x, w, b, strides[0], begin[0], dilations[0], group),
            2 when group == 1 => PaddedConv2d(x, w, b, strides, begin, dilations),
            2 => F.conv2d(x, w, b, strides, begin, dilations, group),
            _ => throw new ModelBuildException(ErrorCodes.UnsupportedOperator, $"{node}: only 1-D and 2-D convolutions can be trained"),
        };
    }

    // libtorch 2.10's oneDNN convolutions compute wrong values (relative errors of 0.1 to 0.5, sometimes
    // NaN) when a channel count is not a multiple of the vector block, in the forward pass or the input
    // gradient, on AVX2 and AVX-512 (measured on an AMD EPYC; exact with oneDNN held to SSE4.1, at a third
    // of the speed). Slimming leaves exactly such counts (25, 61, 127 channels), and fine-tuned slimmed
    // models ended at chance. Zero channels up to a multiple of 16 give the same convolution on kernels
    // that compute it right; grouped convolutions measured right as they are. One input channel (a
    // grayscale first layer) is also right and would cost 16 times the work padded.
    static TorchTensor PaddedConv2d(TorchTensor x, TorchTensor w, TorchTensor? b, long[] strides, long[] pads, long[] dilations)
    {
        const long Block = 16;
        long outputs = w.shape[0], inputs = w.shape[1];
        var extraIn = inputs == 1 ? 0 : (Block - inputs % Block) % Block;
        var extraOut = (Block - outputs % Block) % Block;
        if (extraIn > 0)
        {
            x = F.pad(x, [0, 0, 0, 0, 0, extraIn]);
            w = F.pad(w, [0, 0, 0, 0, 0, extraIn]);
        }
        if (extraOut > 0)
        {
            w = F.pad(w, [0, 0, 0, 0, 0, 0, 0, extraOut]);
            if (b is not null) b = F.pad(b, [0, extraOut]);
        }
        var y = F.conv2d(x, w, b, strides, pads, dilations, 1);
        return extraOut > 0 ? y.narrow(1, 0, outputs) : y;
    }

    static TorchTensor Pool(Node node, TorchTensor x, bool max)
    {
        var kernel = node.GetInts("kernel_shape")!;
        var n = kernel.Length;
        if (n != 2) throw new ModelBuildException(ErrorCodes.UnsupportedOperator, $"{node}: only 2-D pooling can be trained");
        var strides = node.GetInts("strides") ?? Ones(n);
        var dilations = node.GetInts("dilations") ?? Ones(n);
        var pads = ExplicitPads(node, x, kernel, strides, dilations);
        var ceil = node.GetInt("ceil_mode", 0) == 1;
        var (begin, end) = (pads[..n], pads[n..]);
        var symmetric = begin.SequenceEqual(end) && begin.Zip(kernel).All(p => p.First <= p.Second / 2);
        if (max)
        {
            if (!symmetric) { x = F.pad(x, TorchPadOrder(pads), PaddingModes.Constant, double.NegativeInfinity); begin = new long[n]; }
            return F.max_pool2d(x, kernel, strides, begin, dilations, ceil);
        }
        var includePad = node.GetInt("count_include_pad", 0) == 1;
        if (!symmetric)
        {
            if (!includePad) throw new ModelBuildException(ErrorCodes.UnsupportedOperator, $"{node}: asymmetric padding without count_include_pad cannot be trained");
            x = F.pad(x, TorchPadOrder(pads), PaddingModes.Constant, 0);
            begin = new long[n];
        }
        return F.avg_pool2d(x, kernel, strides, begin, ceil, includePad);
    }

    // ONNX pads (all begins, then all ends), with auto_pad resolved against the actual input size.
    static long[] ExplicitPads(Node node, TorchTensor x, long[] kernel, long[] strides, long[] dilations)
    {
        var n = kernel.Length;
        var autoPad = node.GetString("auto_pad", "NOTSET");
        if (autoPad is not ("SAME_UPPER" or "SAME_LOWER")) return autoPad == "VALID" ? new long[2 * n] : node.GetInts("pads") ?? new long[2 * n];
        var pads = new long[2 * n];
        for (var i = 0; i < n; i++)
        {
            var size = x.shape[i + 2];
            var output = (size + strides[i] - 1) / strides[i];
            var total = Math.Max(0, (output - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - size);
            var small = total / 2;
            (pads[i], pads[i + n]) = autoPad == "SAME_UPPER" ? (small, total - small) : (total - small, small);
        }
        return pads;
    }

    // torch's pad lists the last axis first: [last_begin, last_end, previous_begin, previous_end, ...].
    static long[] TorchPadOrder(long[] onnxPads)
    {
        var n = onnxPads.Length / 2;
        var result = new long[2 * n];
        for (var i = 0; i < n; i++)
        {
            result[2 * i] = onnxPads[n - 1 - i];
            result[2 * i + 1] = onnxPads[2 * n - 1 - i];
        }
        return result;
    }

    static TorchTensor Clip(Node node, TorchTensor x, TorchTensor? min, TorchTensor? max, long opset)
    {
        if (opset < 11)
            return torch.clamp(x, node.GetFloat("min", float.MinValue), node.GetFloat("max", float.MaxValue));
        return torch.clamp(x, min is null ? float.MinValue : min.item<float>(), max is null ? float.MaxValue : max.item<float>());
    }

    static TorchTensor Softmax(Node node, TorchTensor x, long opset)
    {
        var axis = node.GetInt("axis", opset >= 13 ? -1 : 1);
        if (opset >= 13) return torch.softmax(x, (int)axis);
        // Before opset 13, Softmax flattens to 2-D at the axis.
        if (axis < 0) axis += x.dim();
        var shape = x.shape;
        var outer = shape.Take((int)axis).Aggregate(1L, (a, b) => a * b);
        return torch.softmax(x.reshape(outer, -1), 1).reshape(shape);
    }

    static TorchTensor Gemm(Node node, TorchTensor a, TorchTensor b, TorchTensor? c)
    {
        if (node.GetInt("transA", 0) == 1) a = a.t();
        if (node.GetInt("transB", 0) == 1) b = b.t();
        var y = torch.matmul(a, b) * node.GetFloat("alpha", 1f);
        return c is null ? y : y + c * node.GetFloat("beta", 1f);
    }

    static TorchTensor Pad(Node node, TorchTensor x, TorchTensor? padsInput, TorchTensor? valueInput, TorchTensor? axesInput)
    {
        var rank = (int)x.dim();
        var given = padsInput?.data<long>().ToArray() ?? node.GetInts("pads") ?? new long[2 * rank];
        var axes = axesInput?.data<long>().ToArray().Select(a => a < 0 ? a + rank : a).ToArray() ?? Enumerable.Range(0, rank).Select(i => (long)i).ToArray();
        var pads = new long[2 * rank];
        for (var i = 0; i < axes.Length; i++)
        {
            pads[axes[i]] = given[i];
            pads[axes[i] + rank] = given[i + axes.Length];
        }
        var value = valueInput is null ? node.GetFloat("value", 0f) : valueInput.item<float>();
        var mode = node.GetString("mode", "constant") switch
        {
            "reflect" => PaddingModes.Reflect,
            "edge" => PaddingModes.Replicate,
            _ => PaddingModes.Constant,
        };
        // Negative pads crop; torch's pad accepts them for constant mode.
        return F.pad(x, TorchPadOrder(pads), mode, value);
    }

    static TorchTensor ConstantTensor(Node node)
    {
        var t = Shapes.OperatorRules.ConstantValue(node)!;
        return t.Type == ElementType.Float ? torch.tensor(t.Floats.ToArray(), t.Dims) : torch.tensor(t.ToInt64s(), t.Dims);
    }

    static TorchTensor Slice(Node node, TorchTensor x, IReadOnlyDictionary<string, TorchTensor> live)
    {
        long[] Ints(int i) => live[node.Inputs[i]].data<long>().ToArray();
        var starts = Ints(1);
        var ends = Ints(2);
        var axes = node.Input(3) is not null ? Ints(3) : [.. Enumerable.Range(0, starts.Length).Select(i => (long)i)];
        var steps = node.Input(4) is not null ? Ints(4) : [.. starts.Select(_ => 1L)];
        for (var i = 0; i < axes.Length; i++)
        {
            if (steps[i] < 1) throw new ModelBuildException(ErrorCodes.UnsupportedOperator, $"{node}: a Slice with a negative step cannot be trained");
            var axis = axes[i] < 0 ? axes[i] + x.dim() : axes[i];
            var n = x.shape[axis];
            long Clamp(long v) => Math.Clamp(v < 0 ? v + n : v, 0, n);
            x = x.slice(axis, Clamp(starts[i]), Math.Max(Clamp(starts[i]), Clamp(ends[i])), steps[i]);
        }
        return x;
    }

    static Graph.Tensor ToInt64Tensor(TorchTensor t) => Graph.Tensor.FromInt64s("", t.shape, t.data<long>().ToArray());

    static long[] Ones(int n) => Enumerable.Repeat(1L, n).ToArray();
}

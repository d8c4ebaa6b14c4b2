using ModelBuildTasks.Graph;

namespace ModelBuildTasks.Tests;

/// <summary>One small graph per supported operator (and its main attribute variants), each applied to an input of [N, 3, 9, 9].</summary>
static class OpCases
{
    /// <summary>The cases' opset: 14, the first with HardSwish.</summary>
    public const long Opset = 14;

    public static readonly Dictionary<string, Func<GraphBuilder, string, string>> Builders = new()
    {
        ["conv k3 s2 p1"] = (b, x) => b.Conv(x, 5, kernel: 3, stride: 2, pad: 1),
        ["conv k1 no pad"] = (b, x) => b.Conv(x, 4, kernel: 1, pad: 0),
        ["conv depthwise"] = (b, x) => b.Conv(x, 6, kernel: 3, group: 3),
        ["conv dilated"] = (b, x) => b.Add("Conv", [x, b.Constant("w", [4, 3, 3, 3], 0.1f)], ("dilations", NodeAttribute.Of([2L, 2L]))),
        ["conv same_upper s2"] = (b, x) => b.Add("Conv", [x, b.Constant("w", [4, 3, 3, 3], 0.1f)], ("auto_pad", NodeAttribute.Of("SAME_UPPER")), ("strides", NodeAttribute.Of([2L, 2L]))),
        ["maxpool ceil"] = (b, x) => b.Add("MaxPool", [x], ("kernel_shape", NodeAttribute.Of([3L, 3L])), ("strides", NodeAttribute.Of([2L, 2L])), ("ceil_mode", NodeAttribute.Of(1L))),
        ["avgpool padded"] = (b, x) => b.Add("AveragePool", [x], ("kernel_shape", NodeAttribute.Of([2L, 2L])), ("pads", NodeAttribute.Of([1L, 1L, 1L, 1L]))),
        ["global average pool"] = (b, x) => b.GlobalAveragePool(x),
        ["global max pool"] = (b, x) => b.Add("GlobalMaxPool", [x]),
        ["prelu per channel"] = (b, x) => b.Add("PRelu", [b.Sum(x, b.Constant("shift", [], -0.5f)), b.Initializer("slope", [3, 1, 1], [0.1f, -0.2f, 0.3f])]),
        ["prelu scalar"] = (b, x) => b.Add("PRelu", [b.Sum(x, b.Constant("shift", [], -0.5f)), b.Constant("slope", [1], 0.25f)]),
        ["div by a constant"] = (b, x) => b.Add("Div", [x, b.Constant("six", [], 6f)]),
        ["batchnorm relu"] = (b, x) => b.Relu(b.BatchNorm(x)),
        ["clip sigmoid leakyrelu"] = (b, x) => b.Add("LeakyRelu", [b.Add("Sigmoid", [b.Add("Clip", [x])])]),
        ["softmax identity dropout"] = (b, x) => b.Add("Dropout", [b.Add("Identity", [b.Add("Softmax", [x])])]),
        ["log softmax"] = (b, x) => b.Add("LogSoftmax", [x]),
        ["unsqueeze squeeze"] = (b, x) => b.Add("Squeeze", [b.Add("Unsqueeze", [b.GlobalAveragePool(x), Int64s(b, 0, -1)]), Int64s(b, 0, 3, -1)]),
        ["hardsigmoid hardswish"] = (b, x) => b.Add("HardSwish", [b.Add("HardSigmoid", [x], ("alpha", NodeAttribute.Of(0.3f)))]),
        ["reducemean spatial"] = (b, x) => b.Add("ReduceMean", [x], ("axes", NodeAttribute.Of([2L, 3L]))),
        ["reducemean no keepdims"] = (b, x) => b.Add("ReduceMean", [x], ("axes", NodeAttribute.Of([-1L, 1L])), ("keepdims", NodeAttribute.Of(0L))),
        ["transpose nhwc"] = (b, x) => b.Add("Transpose", [x], ("perm", NodeAttribute.Of([0L, 2L, 3L, 1L]))),
        ["channel shuffle"] = (b, x) => b.Add("Reshape", [b.Add("Transpose", [b.Add("Reshape", [x, Int64s(b, 0, 3, 1, 9, 9)])], ("perm", NodeAttribute.Of([0L, 2L, 1L, 3L, 4L]))), Int64s(b, 0, -1, 9, 9)]),
        ["split channels"] = (b, x) =>
        {
            var parts = b.AddOutputs("Split", [x, Int64s(b, 1, 2)], 2, ("axis", NodeAttribute.Of(1L)));
            return b.Concat(parts[1], parts[0]);
        },
        ["split equal"] = (b, x) => b.AddOutputs("Split", [x], 3, ("axis", NodeAttribute.Of(2L)))[2],
        ["slice channels"] = (b, x) => b.Add("Slice", [x, Int64s(b, 1), Int64s(b, long.MaxValue), Int64s(b, 1)]),
        ["slice steps"] = (b, x) => b.Add("Slice", [x, Int64s(b, 1, -2), Int64s(b, 8, 100), Int64s(b, 2, 3), Int64s(b, 2, 1)]),
        ["add broadcast"] = (b, x) => b.Sum(x, b.Constant("c", [3, 1, 1], 1f)),
        ["mul broadcast"] = (b, x) => b.Add("Mul", [x, b.Constant("c", [9], 2f)]),
        ["concat"] = (b, x) => b.Concat(x, b.Conv(x, 2)),
        ["flatten axis 2"] = (b, x) => b.Add("Flatten", [x], ("axis", NodeAttribute.Of(2L))),
        ["flatten axis -1"] = (b, x) => b.Add("Flatten", [x], ("axis", NodeAttribute.Of(-1L))),
        ["reshape 0,-1"] = (b, x) => b.Add("Reshape", [x, Int64s(b, 0, -1)]),
        ["reshape 0,3,-1"] = (b, x) => b.Add("Reshape", [x, Int64s(b, 0, 3, -1)]),
        ["gemm transB"] = (b, x) => b.Linear(b.Flatten(x), 7),
        ["gemm plain"] = (b, x) => b.Add("Gemm", [b.Flatten(x), b.Constant("w", [243, 5], 0.1f)]),
        ["matmul"] = (b, x) => b.Add("MatMul", [b.Flatten(x), b.Constant("w", [243, 4], 0.1f)]),
        ["matmul batched"] = (b, x) => b.Add("MatMul", [x, b.Constant("w", [9, 2], 0.1f)]),
        ["pad"] = (b, x) => b.Add("Pad", [x, Int64s(b, 0, 0, 1, 2, 0, 0, 3, 4)]),
    };

    static string Int64s(GraphBuilder b, params long[] values)
    {
        var name = $"shape_{b.Graph.Initializers.Count}";
        b.Graph.AddInitializer(Tensor.FromInt64s(name, [values.Length], values));
        return name;
    }
}

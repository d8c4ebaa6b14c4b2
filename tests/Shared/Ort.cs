using Microsoft.ML.OnnxRuntime;

namespace ModelBuildTasks.Tests;
using ModelBuildTasks.Tests;

/// <summary>Runs a model with ONNX Runtime and returns every output, for comparisons in tests.</summary>
static class Ort
{
    public static Dictionary<string, float[]> Run(byte[] model, float[] input, long[] shape, GraphOptimizationLevel level = GraphOptimizationLevel.ORT_ENABLE_ALL)
    {
        using var options = new SessionOptions { GraphOptimizationLevel = level, IntraOpNumThreads = 1 };
        using var session = new InferenceSession(model, options);
        using var runOptions = new RunOptions();
        using var value = OrtValue.CreateTensorValueFromMemory(input, shape);
        var names = session.OutputMetadata.Keys.ToArray();
        using var outputs = session.Run(runOptions, [session.InputMetadata.Keys.Single()], [value], names);
        return names.Select((n, i) => (n, outputs[i].GetTensorDataAsSpan<float>().ToArray())).ToDictionary(p => p.n, p => p.Item2);
    }

    public static float MaxDifference(float[] a, float[] b)
    {
        Assert.Equal(a.Length, b.Length);
        return a.Zip(b, (x, y) => Math.Abs(x - y)).Max();
    }
}

static class OrtShapes
{
    /// <summary>The actual shape of the model's first output when run on zeros of <paramref name="inputShape"/>.</summary>
    public static long[] FirstOutput(byte[] model, long[] inputShape)
    {
        using var session = new InferenceSession(model);
        using var runOptions = new RunOptions();
        var input = new float[inputShape.Aggregate(1L, (n, d) => n * d)];
        using var value = OrtValue.CreateTensorValueFromMemory(input, inputShape);
        using var outputs = session.Run(runOptions, [session.InputMetadata.Keys.Single()], [value], [session.OutputMetadata.Keys.First()]);
        return outputs[0].GetTensorTypeAndShape().Shape;
    }
}

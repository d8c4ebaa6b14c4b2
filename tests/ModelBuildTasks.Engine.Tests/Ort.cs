using Microsoft.ML.OnnxRuntime;

namespace ModelBuildTasks.Engine.Tests;

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

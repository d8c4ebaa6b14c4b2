using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using ModelBuildTasks.Container;

namespace ModelBuildTasks.Runtime;

/// <summary>
/// Creates the ONNX Runtime session of a container. A container can pass every structural check
/// and still hold a graph ONNX Runtime rejects (a crafted or damaged file with valid checksums):
/// that is a bad container, reported as <see cref="ContainerFormatException"/> like every other,
/// never as ONNX Runtime's own exception type.
/// </summary>
static class OnnxSessions
{
    public static InferenceSession Create(byte[] onnx, SessionOptions options)
    {
        // Errors surface as exceptions; ONNX Runtime's own log lines would only clutter the app's stderr.
        options.LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL;
        InferenceSession session;
        try
        {
            session = new InferenceSession(onnx, options);
        }
        catch (OnnxRuntimeException e)
        {
            throw new ContainerFormatException($"ONNX Runtime cannot load the model: {e.Message}", 0);
        }
        try
        {
            CheckClassifier(session);
            return session;
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    // What CompressedModel relies on: one float input whose per-image size is known and fits an
    // int, and a float output. A container that loads but breaks this is crafted, not a classifier.
    static void CheckClassifier(InferenceSession session)
    {
        if (session.InputMetadata.Count != 1) throw new ContainerFormatException($"an image classifier has one input; this model has {session.InputMetadata.Count}", 0);
        if (session.OutputMetadata.Count < 1) throw new ContainerFormatException("the model has no output", 0);
        var input = session.InputMetadata.First().Value;
        var output = session.OutputMetadata.First().Value;
        if (input.ElementDataType != TensorElementType.Float || output.ElementDataType != TensorElementType.Float || !input.IsTensor || !output.IsTensor)
            throw new ContainerFormatException("the model's first input and output must be float tensors", 0);
        if (input.Dimensions.Length < 2) throw new ContainerFormatException("the model's input has no per-image dimensions", 0);
        long size = 1;
        foreach (var d in input.Dimensions.Skip(1))
        {
            if (d <= 0) throw new ContainerFormatException("the model's input has unknown dimensions besides the batch", 0);
            size *= d;
            if (size > int.MaxValue) throw new ContainerFormatException("the model's input is too large", 0);
        }
        // Outputs are read as a batch axis, then each image's values: an output without the batch axis ([10] for a batch of
        // one) would give each image one value, and one of unknown size ([N, C]) a count of -1 (or 1, from two unknowns),
        // silently shifting every image's outputs after the first.
        var inputBatch = input.Dimensions[0] > 0 ? input.Dimensions[0] : 1;
        if (output.Dimensions.Length == 0 || output.Dimensions[0] > 0 && output.Dimensions[0] != inputBatch)
            throw new ContainerFormatException($"the model's output [{string.Join(",", output.Dimensions)}] has no batch axis first (its input is [{string.Join(",", input.Dimensions)}]): export it with one, e.g. [1,{string.Join(",", output.Dimensions)}]", 0);
        long classes = 1;
        foreach (var d in output.Dimensions.Skip(1))
        {
            if (d <= 0)
                throw new ContainerFormatException($"the model's output [{string.Join(",", output.Dimensions.Select(o => o < 0 ? "?" : o.ToString(System.Globalization.CultureInfo.InvariantCulture)))}] has dimensions of unknown or no size besides the batch: export it with each image's output size fixed", 0);
            classes *= d;
            if (classes > int.MaxValue) throw new ContainerFormatException("the model's output is too large", 0);
        }
    }
}

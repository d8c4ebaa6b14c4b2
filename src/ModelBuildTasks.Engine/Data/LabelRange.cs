namespace ModelBuildTasks.Data;

/// <summary>
/// Labels must name one of the model's classes. A label past the last class can never be predicted,
/// so a dataset of such labels scores 0% for every model, and a 0-point drop from a 0% baseline
/// "meets" any target: an error, not a result.
/// </summary>
public static class LabelRange
{
    /// <summary>Throws <see cref="ErrorCodes.LabelOutOfRange"/> when a label of <paramref name="data"/> is not below <paramref name="classCount"/> (nothing to check when either is unknown).</summary>
    public static void Check(ImageDataset data, long? classCount)
    {
        if (data.Labels is not { } labels || classCount is not > 0) return;
        for (var i = 0; i < labels.Length; i++)
        {
            if (labels[i] < 0 || labels[i] >= classCount)
                throw new ModelBuildException(ErrorCodes.LabelOutOfRange,
                    $"image {i} has label {labels[i]}, but the model has {classCount} classes (labels 0 to {classCount - 1})",
                    File.Exists(data.Source) ? DatasetFiles.LabelsPathFor(data.Source) ?? data.Source : data.Source); // an IDX set's labels have a file of their own
        }
    }

    /// <summary>The number of classes of a model with one output of known shape [N, classes...], or null.</summary>
    public static long? ClassCount(Graph.OnnxModel model)
    {
        if (model.Graph.Outputs.Count == 0) return null;
        var output = model.Graph.Outputs[0];
        // The declared shape, unless it leaves a size open ([N, C]) that inference finds, as the container will record it.
        var shape = output.Shape is { } declared && declared.Dims.Skip(1).All(d => d.IsKnown) ? declared
            : Shapes.ShapeInference.Infer(model.Graph).Values.TryGetValue(output.Name, out var inferred) && inferred.Shape is { } known ? known : output.Shape;
        if (shape is null || shape.Dims.Count < 2 || shape.Dims.Skip(1).Any(d => !d.IsKnown)) return null;
        long classes = 1;
        foreach (var d in shape.Dims.Skip(1))
        {
            classes *= Math.Max(d.Value, 1);
            if (classes > int.MaxValue) return null; // not a classifier's output; nothing sensible to check against
        }
        return classes;
    }
}

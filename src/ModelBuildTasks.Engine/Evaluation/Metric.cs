namespace ModelBuildTasks.Evaluation;

/// <summary>How a compressed model is scored against the original, image by image.</summary>
public enum Metric
{
    /// <summary>Top-1 against the labels: 1 when right, 0 when wrong. For classifiers with labelled data.</summary>
    Accuracy,
    /// <summary>Top-1 agreement with the original model: 1 when both pick the same class. For classifiers without labels.</summary>
    Agreement,
    /// <summary>Cosine similarity of the whole output to the original model's. For embeddings, feature maps and any non-class output.</summary>
    Cosine,
}

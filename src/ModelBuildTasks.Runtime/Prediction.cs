namespace ModelBuildTasks.Runtime;

/// <summary>One class's result for one image: the top-1 of <c>Predict</c>, or one entry of <c>TopK</c>.</summary>
/// <param name="ClassIndex">The predicted class.</param>
/// <param name="Label">Its name, or the index as text when the model has no labels.</param>
/// <param name="Score">The probability of that class, in [0, 1]: the softmax of the outputs, or the output itself when the model ends in a Softmax or a Sigmoid.</param>
public readonly record struct Prediction(int ClassIndex, string Label, float Score)
{
    /// <summary>The model's raw output for that class: its logit, or its probability when the model ends in a Softmax or a Sigmoid.</summary>
    public float Logit { get; init; }
}

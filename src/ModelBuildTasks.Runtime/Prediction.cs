namespace ModelBuildTasks.Runtime;

/// <summary>The top-1 result for one image.</summary>
/// <param name="ClassIndex">The predicted class.</param>
/// <param name="Label">Its name, or the index as text when the model has no labels.</param>
/// <param name="Score">The softmax probability of that class, in [0, 1].</param>
public readonly record struct Prediction(int ClassIndex, string Label, float Score);

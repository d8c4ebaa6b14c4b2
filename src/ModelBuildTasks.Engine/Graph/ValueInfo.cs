namespace ModelBuildTasks.Graph;

/// <summary>The declared or inferred type of a named value: element type and (if known) shape.</summary>
/// <param name="Name">The value's name in the graph.</param>
/// <param name="Type">Its element type.</param>
/// <param name="Shape">Its shape, or null when the rank itself is unknown.</param>
public sealed record ValueInfo(string Name, ElementType Type, TensorShape? Shape);

namespace ModelBuildTasks.Container;

/// <summary>A container file is damaged or crafted: the message says what is wrong and at which byte.</summary>
public sealed class ContainerFormatException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ContainerFormatException(string message, long offset) : base($"{message} (at byte {offset})") => Offset = offset;

    ContainerFormatException(string message, long offset, Exception inner) : base(message, inner) => Offset = offset;

    /// <summary>The same problem, said of <paramref name="where"/> (an app's embedded resource, say), which the message of a container's bytes cannot name.</summary>
    /// <param name="where">What held the container, e.g. <c>embedded resource 'X' of assembly Y</c>.</param>
    public ContainerFormatException Of(string where) => new($"{where}: {Message}", Offset, this);

    /// <summary>The byte offset where the problem was found.</summary>
    public long Offset { get; }
}

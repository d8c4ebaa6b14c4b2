namespace ModelBuildTasks.Container;

/// <summary>A container file is damaged or crafted: the message says what is wrong and at which byte.</summary>
public sealed class ContainerFormatException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ContainerFormatException(string message, long offset) : base($"{message} (at byte {offset})") => Offset = offset;

    /// <summary>The byte offset where the problem was found.</summary>
    public long Offset { get; }
}

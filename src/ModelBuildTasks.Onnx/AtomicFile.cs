namespace ModelBuildTasks;

/// <summary>
/// Writes files so that a reader never sees a half-written one: the bytes go to a temporary file
/// in the same folder, which is then renamed over the target (atomic on one file system).
/// </summary>
public static class AtomicFile
{
    /// <summary>Writes <paramref name="bytes"/> to <paramref name="path"/> atomically.</summary>
    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes)
    {
        var copy = bytes.ToArray();
        Write(path, stream => stream.Write(copy));
    }

    /// <summary>Writes <paramref name="text"/> (UTF-8, no BOM) to <paramref name="path"/> atomically.</summary>
    public static void WriteAllText(string path, string text) =>
        WriteAllBytes(path, new System.Text.UTF8Encoding(false).GetBytes(text));

    /// <summary>
    /// Writes <paramref name="bytes"/> to <paramref name="path"/> atomically unless the file already holds
    /// exactly these bytes; returns whether it wrote.
    /// </summary>
    /// <remarks>
    /// An unchanged output keeps its timestamp, so what compares timestamps after it (the C# compiler's
    /// target, the IDE's up-to-date check) sees nothing new, as with Grpc.Tools' and EF Core's generated files.
    /// </remarks>
    public static bool WriteAllBytesIfChanged(string path, ReadOnlySpan<byte> bytes)
    {
        if (Holds(path, bytes)) return false;
        WriteAllBytes(path, bytes);
        return true;
    }

    /// <summary>Writes <paramref name="text"/> (UTF-8, no BOM) as <see cref="WriteAllBytesIfChanged"/> does; returns whether it wrote.</summary>
    public static bool WriteAllTextIfChanged(string path, string text) =>
        WriteAllBytesIfChanged(path, new System.Text.UTF8Encoding(false).GetBytes(text));

    // The length first: a different size needs no read. Anything unreadable is written over, as before.
    static bool Holds(string path, ReadOnlySpan<byte> bytes)
    {
        try
        {
            var file = new FileInfo(path);
            if (!file.Exists || file.Length != bytes.Length) return false;
            return bytes.Length == 0 || File.ReadAllBytes(path).AsSpan().SequenceEqual(bytes);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Lets <paramref name="write"/> fill a temporary file, then renames it to <paramref name="path"/>.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        var full = Path.GetFullPath(path);
        var folder = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(folder);
        StaleTemp.Sweep(folder, $".{Path.GetFileName(full)}.*.tmp"); // left by a write killed before its rename
        var temp = Path.Combine(folder, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        Unfinished.TryAdd(temp, 0);
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
            Unfinished.TryRemove(temp, out _);
        }
    }

    static readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte> Unfinished = new();

    /// <summary>
    /// Deletes the temporary files of writes still under way (best effort): for a process that is being stopped
    /// (Ctrl+C, SIGTERM), whose writes will never reach their rename.
    /// </summary>
    public static void DeleteUnfinished()
    {
        foreach (var temp in Unfinished.Keys)
        {
            try
            {
                File.Delete(temp);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Swept by the next write to that folder (StaleTemp) instead.
            }
        }
    }
}

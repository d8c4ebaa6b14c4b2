namespace ModelBuildTasks;

/// <summary>
/// Removes what an interrupted write leaves behind. A process killed between writing a temporary
/// file (or cache folder) and renaming it leaves a full-size orphan that nothing else would ever
/// delete; anything of ours older than an hour cannot belong to a write still in progress.
/// </summary>
public static class StaleTemp
{
    /// <summary>Entries older than this are orphans.</summary>
    public static readonly TimeSpan MaxAge = TimeSpan.FromHours(1);

    /// <summary>Deletes files and folders in <paramref name="folder"/> matching <paramref name="pattern"/> and older than <see cref="MaxAge"/>; never throws.</summary>
    public static void Sweep(string folder, string pattern = "*")
    {
        try
        {
            if (!Directory.Exists(folder)) return;
            var cutoff = DateTime.UtcNow - MaxAge;
            foreach (var entry in new DirectoryInfo(folder).EnumerateFileSystemInfos(pattern))
            {
                try
                {
                    if (entry.LastWriteTimeUtc >= cutoff) continue;
                    if (entry is DirectoryInfo directory) directory.Delete(recursive: true);
                    else entry.Delete();
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException) { } // another process's, or already gone
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }
}

namespace ModelBuildTasks.Compression.Caching;

/// <summary>
/// The OS's lock on one lock file of the cache folder (<c>locks/KEY.lock</c>), held by the process
/// that compresses KEY; the OS releases it however the process ends. Releasing it also removes the
/// file, so the folder does not keep one empty file for every model ever compressed; files left by
/// killed processes are removed by <c>cache prune</c> (<see cref="LocalCacheEntries.RemoveUnusedLocks"/>).
/// </summary>
public sealed class CacheKeyLock : IDisposable
{
    readonly FileStream stream;
    readonly string path;

    CacheKeyLock(FileStream stream, string path) => (this.stream, this.path) = (stream, path);

    /// <summary>Takes the lock on <paramref name="path"/> (creating the file), or null when another process holds it.</summary>
    /// <exception cref="IOException">The folder cannot hold a lock file (read-only, full, a file where it goes).</exception>
    /// <exception cref="UnauthorizedAccessException">The folder cannot hold a lock file (permissions).</exception>
    public static CacheKeyLock? TryTake(string path)
    {
        // A file whose holder removed it while this process was opening it is locked but no longer at the path
        // (see Dispose), so the path is opened again; bounded, so a lock file something else wrote into cannot
        // spin forever (builds then just do not wait for each other).
        for (var attempt = 0; attempt < 100; attempt++)
        {
            FileStream stream;
            try
            {
                stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException e) when (e.HResult is 11 or 35 or unchecked((int)0x80070020)) // EWOULDBLOCK on Linux, on macOS; Windows' sharing violation
            {
                return null;
            }
            if (stream.Length == 0) return new CacheKeyLock(stream, path);
            stream.Dispose();
        }
        throw new IOException($"the lock file {path} keeps being replaced");
    }

    /// <summary>Releases the lock and removes its file.</summary>
    public void Dispose()
    {
        // Removing a lock file is racy where the lock is an flock on an open file (Linux, macOS): a process
        // that opened the file just before it was removed gets the lock on a file no longer at the path, while
        // the next one creates a new file and locks that, and both would compress. As Nix does with its path
        // locks: the holder removes the name first, then writes a byte into the file it still holds; whoever
        // locks that file afterwards finds the byte and opens the path again (TryTake). A process killed in
        // between leaves nothing worse than before: a removed file, or an empty one that prune removes.
        // On Windows the lock is the open handle itself (no other process can open the file meanwhile), so
        // the file is removed after it is closed, unless another process has opened it by then.
        if (OperatingSystem.IsWindows())
        {
            stream.Dispose();
            TryDelete();
            return;
        }
        TryDelete();
        try
        {
            stream.WriteByte(1);
            stream.Flush();
        }
        catch (IOException) { } // a full disk: the next holder of this nameless file may then compress too, which costs time, never a wrong result
        stream.Dispose();
    }

    void TryDelete()
    {
        try { File.Delete(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { } // read-only folder, or (Windows) reopened meanwhile: it stays, harmlessly
    }
}

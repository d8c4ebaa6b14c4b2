using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace ModelBuildTasks;

/// <summary>
/// The one way the engine opens an input file (a model, its external data, a dataset): regular
/// files only, opened without ever blocking, read with a length limit. A FIFO would block the
/// open (or the read) forever, a device can be endless, and a symlink can point anywhere: inputs
/// are untrusted, so each of these is a coded error, never a hang or an out-of-memory.
/// </summary>
public static partial class InputFile
{
    /// <summary>The largest input file read into memory whole (the largest .NET array).</summary>
    public const long MaxBytes = 0x7FFFFFC7;

    /// <summary>Opens <paramref name="path"/> for reading; every failure is a <see cref="ModelBuildException"/> with <paramref name="code"/>.</summary>
    /// <param name="path">The file.</param>
    /// <param name="code">The error code for a missing, unreadable or non-regular file.</param>
    /// <param name="displayPath">The name used in messages (default: <paramref name="path"/>).</param>
    public static FileStream OpenRegular(string path, string code, string? displayPath = null)
    {
        displayPath ??= path;
        FileStream stream;
        try
        {
            stream = OperatingSystem.IsWindows() ? new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read) : OpenNonBlocking(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ModelBuildException(code, "file not found", displayPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelBuildException(code, $"cannot read the file: {e.Message}", displayPath);
        }
        if (!IsRegular(stream))
        {
            stream.Dispose();
            throw new ModelBuildException(code, "not a regular file (a FIFO, device or socket cannot be an input)", displayPath);
        }
        return stream;
    }

    /// <summary>Reads a whole regular file of at most <paramref name="limit"/> bytes.</summary>
    /// <param name="path">The file.</param>
    /// <param name="limit">The most bytes accepted; a longer file is an error with <paramref name="tooLargeCode"/>.</param>
    /// <param name="code">The error code for a missing, unreadable or non-regular file.</param>
    /// <param name="tooLargeCode">The error code for a file over the limit.</param>
    /// <param name="displayPath">The name used in messages.</param>
    public static byte[] ReadAllBytes(string path, long limit, string code, string tooLargeCode, string? displayPath = null)
    {
        displayPath ??= path;
        using var stream = OpenRegular(path, code, displayPath);
        try
        {
            var length = stream.Length;
            if (length > Math.Min(limit, MaxBytes))
                throw new ModelBuildException(tooLargeCode, $"the file has {length:N0} bytes, more than the limit of {Math.Min(limit, MaxBytes):N0}", displayPath);
            var bytes = new byte[length];
            stream.ReadExactly(bytes);
            return bytes;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelBuildException(code, $"cannot read the file: {e.Message}", displayPath);
        }
    }

    /// <summary>
    /// The absolute path with every symbolic link resolved, in every component (what the file system
    /// will actually open). Components that do not exist are kept as written.
    /// </summary>
    public static string RealPath(string path)
    {
        var pending = new Stack<string>();
        var full = Path.GetFullPath(path);
        var current = Path.GetPathRoot(full)!;
        foreach (var part in full[current.Length..].Split(Separators, StringSplitOptions.RemoveEmptyEntries).Reverse()) pending.Push(part);
        var hops = 0;
        while (pending.Count > 0)
        {
            var part = pending.Pop();
            if (part == ".") continue;
            if (part == "..") { current = Path.GetDirectoryName(current) ?? current; continue; }
            var next = Path.Combine(current, part);
            string? target = null;
            try { target = new FileInfo(next).LinkTarget; }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            if (target is null) { current = next; continue; }
            if (++hops > 40) throw new IOException($"too many levels of symbolic links at '{next}'");
            // Resolve the link's text against the folder holding it, then walk it like the rest.
            var resolved = Path.GetFullPath(Path.IsPathRooted(target) ? target : Path.Combine(current, target));
            current = Path.GetPathRoot(resolved)!;
            foreach (var p in resolved[current.Length..].Split(Separators, StringSplitOptions.RemoveEmptyEntries).Reverse()) pending.Push(p);
        }
        return current;
    }

    /// <summary>True when <paramref name="path"/>, with symbolic links resolved, lies strictly inside <paramref name="folder"/> (also resolved).</summary>
    public static bool IsInside(string path, string folder)
    {
        var root = RealPath(folder);
        var rootWithSeparator = root.EndsWith(Path.DirectorySeparatorChar) ? root : root + Path.DirectorySeparatorChar;
        return RealPath(path).StartsWith(rootWithSeparator, OperatingSystem.IsWindows() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal);
    }

    static readonly char[] Separators = [Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar];

    // open(2) with O_NONBLOCK: on a FIFO without a writer a plain open never returns. The flag has
    // no effect on regular files, the only kind accepted afterwards.
    static FileStream OpenNonBlocking(string path)
    {
        if (Directory.Exists(path)) throw new UnauthorizedAccessException("it is a folder");
        var nonBlock = OperatingSystem.IsLinux() ? 0x800 : 0x4;        // O_NONBLOCK: Linux, BSD/macOS
        var closeOnExec = OperatingSystem.IsLinux() ? 0x80000 : 0x1000000; // O_CLOEXEC
        var fd = Open(path, nonBlock | closeOnExec);
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno == 2) throw new FileNotFoundException("file not found", path); // ENOENT
            throw new IOException(Marshal.GetPInvokeErrorMessage(errno));
        }
        return new FileStream(new SafeFileHandle(fd, ownsHandle: true), FileAccess.Read, bufferSize: 0);
    }

    /// <summary>
    /// What <paramref name="path"/> is when it is neither a regular file, a folder, nor absent: "a symbolic link",
    /// "a FIFO", "a device" or "a socket" (links are not followed); else null.
    /// </summary>
    public static string? SpecialKind(string path)
    {
        if (new FileInfo(path) is { LinkTarget: not null }) return "a symbolic link";
        if (!OperatingSystem.IsLinux()) return null;
        var buffer = new byte[256];
        try
        {
            if (Statx(-100 /* AT_FDCWD */, path, 0x100 /* AT_SYMLINK_NOFOLLOW */, 0x1 /* STATX_TYPE */, buffer) != 0) return null; // absent
        }
        catch (EntryPointNotFoundException)
        {
            return null;
        }
        return (BitConverter.ToUInt16(buffer, 28) & 0xF000) switch
        {
            0x1000 => "a FIFO",
            0x2000 or 0x6000 => "a device",
            0xC000 => "a socket",
            _ => null,
        };
    }

    static bool IsRegular(FileStream stream)
    {
        if (OperatingSystem.IsLinux())
        {
            // statx's layout is the same on every Linux architecture: stx_mode is the u16 at byte 28.
            var buffer = new byte[256];
            try
            {
                if (Statx(stream.SafeFileHandle.DangerousGetHandle().ToInt32(), "", 0x1000 /* AT_EMPTY_PATH */, 0x1 /* STATX_TYPE */, buffer) == 0)
                    return (BitConverter.ToUInt16(buffer, 28) & 0xF000) == 0x8000; // S_IFREG
            }
            catch (EntryPointNotFoundException) { }
        }
        // Elsewhere: pipes, sockets and terminals cannot seek; devices report no length.
        return stream.CanSeek;
    }

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Statx(int dirfd, string path, int flags, uint mask, byte[] buffer);
}

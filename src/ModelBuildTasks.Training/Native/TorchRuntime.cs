using System.Runtime.InteropServices;

namespace ModelBuildTasks.Training.Native;

/// <summary>
/// Makes libtorch usable on this machine before the first torch call, with no manual step:
/// <list type="number">
/// <item>Where the system libstdc++ lacks <c>GLIBCXX_3.4.32</c> (Debian 12), the copy of
/// <c>libLibTorchSharp.so</c> beside the app gets that one need marked weak (see
/// <see cref="ElfVersionNeeds"/>). The NuGet cache is never touched; a library that already loads is
/// left alone. This runs in every host: tests, <c>dotnet run</c>, the packed tool, published apps.</item>
/// <item>glibc's allocator is told to keep large blocks (mmap threshold 32 MiB, no trimming):
/// otherwise libtorch maps and unmaps its buffers every batch and trains at half speed.</item>
/// </list>
/// </summary>
public static class TorchRuntime
{
    const string Library = "libLibTorchSharp.so";
    const string WeakVersion = "GLIBCXX_3.4.32";
    static readonly Lock Gate = new();
    static bool ready;

    /// <summary>What <see cref="EnsureReady"/> did, for reports and tests.</summary>
    public static string Status { get; private set; } = "not initialised";

    /// <summary>Prepares the native libraries once per process; safe to call from anywhere, any number of times.</summary>
    /// <param name="threads">Intra-op threads for libtorch; 0 = one per core.</param>
    public static void EnsureReady(int threads = 0)
    {
        lock (Gate)
        {
            if (!ready)
            {
                if (OperatingSystem.IsLinux())
                {
                    TuneAllocator();
                    Status = PatchLibTorchSharp();
                }
                else Status = "no native fix needed on this OS";
                ready = true;
            }
            TorchSharp.torch.set_num_threads(threads > 0 ? threads : Environment.ProcessorCount);
        }
    }

    /// <summary>Patches every copy of the library under the app's folder that needs it; returns what was done.</summary>
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    static string PatchLibTorchSharp()
    {
        if (SystemHasVersion()) return $"system libstdc++ has {WeakVersion}: nothing to patch";
        var copies = Directory.EnumerateFiles(AppContext.BaseDirectory, Library, SearchOption.AllDirectories).ToList();
        if (copies.Count == 0) return $"{Library} not found beside the app";
        var patched = 0;
        foreach (var path in copies)
        {
            var bytes = File.ReadAllBytes(path);
            if (!ElfVersionNeeds.MarkWeak(bytes, WeakVersion)) continue;
            var mode = File.GetUnixFileMode(path);
            ModelBuildTasks.AtomicFile.WriteAllBytes(path, bytes); // a new inode: never writes through a hard link into the NuGet cache
            File.SetUnixFileMode(path, mode);
            patched++;
        }
        return patched > 0 ? $"marked {WeakVersion} weak in {patched} copy(ies) of {Library}" : $"{Library} already patched";
    }

    static bool SystemHasVersion()
    {
        foreach (var candidate in new[] { "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6", "/usr/lib/aarch64-linux-gnu/libstdc++.so.6" })
        {
            if (!File.Exists(candidate)) continue;
            var text = File.ReadAllBytes(candidate);
            return text.AsSpan().IndexOf(System.Text.Encoding.ASCII.GetBytes(WeakVersion + "\0")) >= 0;
        }
        return false;
    }

    static void TuneAllocator()
    {
        const int M_TRIM_THRESHOLD = -1, M_MMAP_THRESHOLD = -3;
        try
        {
            mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
            mallopt(M_TRIM_THRESHOLD, int.MaxValue);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // Not glibc (e.g. musl): its allocator has no such knobs.
        }
    }

    [DllImport("libc", EntryPoint = "mallopt")]
    static extern int mallopt(int param, int value);
}

using System.Reflection.PortableExecutable;
using System.Runtime.InteropServices;

namespace ModelBuildTasks.EndToEnd.Tests;

/// <summary>
/// Tells native libraries apart by their headers, not their names: an installed RID-specific tool
/// must hold only natives that load on the machine it was installed on.
/// </summary>
static class NativeFiles
{
    /// <summary>The portable RID of this machine (linux-x64 here), as the SDK picks a tool's RID package.</summary>
    public static string HostRid =>
        $"{(OperatingSystem.IsWindows() ? "win" : OperatingSystem.IsMacOS() ? "osx" : "linux")}-{RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant()}";

    /// <summary>ONNX Runtime's library on this OS.</summary>
    public static string OnnxRuntime =>
        OperatingSystem.IsWindows() ? "onnxruntime.dll" : OperatingSystem.IsMacOS() ? "libonnxruntime.dylib" : "libonnxruntime.so";

    /// <summary>
    /// The files under <paramref name="folder"/> that are native code for another OS or CPU: Mach-O
    /// or ELF images on the wrong OS, ELF or PE images for another architecture, PE images without
    /// .NET metadata anywhere but Windows. Managed assemblies run everywhere and are not listed.
    /// </summary>
    public static List<string> ForOtherPlatforms(string folder)
    {
        var others = new List<string>();
        foreach (var path in Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories))
        {
            var header = new byte[20];
            using (var stream = File.OpenRead(path)) stream.ReadAtLeast(header, header.Length, throwOnEndOfStream: false);
            var foreign = header switch
            {
                [0x7F, (byte)'E', (byte)'L', (byte)'F', ..] => !OperatingSystem.IsLinux() || BitConverter.ToUInt16(header, 18) != ElfMachine,
                [0xCF, 0xFA, 0xED, 0xFE, ..] or [0xCA, 0xFE, 0xBA, 0xBE, ..] => !OperatingSystem.IsMacOS(),
                [(byte)'M', (byte)'Z', ..] => NativePeMachine(path) is { } machine && (!OperatingSystem.IsWindows() || machine != PeMachine),
                _ => false,
            };
            if (foreign) others.Add(Path.GetRelativePath(folder, path));
        }
        return others;
    }

    static ushort ElfMachine => RuntimeInformation.OSArchitecture == Architecture.Arm64 ? (ushort)183 : (ushort)62; // EM_AARCH64, EM_X86_64
    static Machine PeMachine => RuntimeInformation.OSArchitecture == Architecture.Arm64 ? Machine.Arm64 : Machine.Amd64;

    // The machine type of a PE image without .NET metadata; null for a managed assembly.
    static Machine? NativePeMachine(string path)
    {
        using var stream = File.OpenRead(path);
        using var pe = new PEReader(stream);
        return pe.HasMetadata ? null : pe.PEHeaders.CoffHeader.Machine;
    }
}

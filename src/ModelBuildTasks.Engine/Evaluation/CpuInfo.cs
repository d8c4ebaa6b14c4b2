using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace ModelBuildTasks.Evaluation;

/// <summary>
/// Names the CPU that measured a model, with the instruction sets ONNX Runtime's integer kernels
/// choose between (AVX2, AVX-512, VNNI; ARM's dot product), so figures can be read for what they are.
/// </summary>
public static class CpuInfo
{
    static readonly string[] KernelFlags = ["avx2", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "amx_int8", "asimddp", "i8mm"];

    /// <summary>For example <c>AMD EPYC (x64: avx2 avx512f avx512bw avx512_vnni avx_vnni)</c>.</summary>
    public static string Describe { get; } = Read();

    static string Read()
    {
        var architecture = RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant();
        string? model = null;
        var flags = new List<string>();
        try
        {
            if (File.Exists("/proc/cpuinfo"))
                foreach (var line in File.ReadLines("/proc/cpuinfo"))
                {
                    var colon = line.IndexOf(':');
                    if (colon < 0) continue;
                    var key = line[..colon].Trim();
                    var value = line[(colon + 1)..].Trim();
                    if (model is null && key is "model name" or "Model" or "Hardware") model = value;
                    if (flags.Count == 0 && key is "flags" or "Features")
                        flags.AddRange(KernelFlags.Where(f => value.Split(' ').Contains(f)));
                }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        if (flags.Count == 0 && RuntimeInformation.ProcessArchitecture == Architecture.X64)
        {
            if (Avx2.IsSupported) flags.Add("avx2");
            if (Avx512F.IsSupported) flags.Add("avx512f");
            if (Avx512BW.IsSupported) flags.Add("avx512bw");
            if (AvxVnni.IsSupported) flags.Add("avx_vnni");
        }
        return $"{model ?? "unknown CPU"} ({architecture}{(flags.Count > 0 ? ": " + string.Join(" ", flags) : "")})";
    }
}

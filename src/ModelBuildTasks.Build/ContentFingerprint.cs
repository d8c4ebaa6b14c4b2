using System.Security.Cryptography;
using System.Text;

namespace ModelBuildTasks.Build;

/// <summary>
/// A SHA-256 over the bytes of a model, its data files and its settings. The task compares it with
/// the one stored beside the outputs: equal means nothing changed, whatever the timestamps say (a git
/// checkout or a restored CI cache touches files without changing them).
/// </summary>
static class ContentFingerprint
{
    public static string Compute(IEnumerable<string> files, string settings)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes(settings + "\n"));
        var buffer = new byte[1 << 16];
        foreach (var file in files)
        {
            hash.AppendData(Encoding.UTF8.GetBytes(Path.GetFileName(file) + "\n"));
            using var stream = File.OpenRead(file);
            int read;
            while ((read = stream.Read(buffer, 0, buffer.Length)) > 0) hash.AppendData(buffer, 0, read);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}

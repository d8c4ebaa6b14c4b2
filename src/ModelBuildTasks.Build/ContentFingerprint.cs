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
            // Only the length the file system reports is hashed, and nothing is opened when it is 0:
            // a FIFO (which would block the open) or a device (endless) reports 0, hashes like an empty
            // file, never matches a stored stamp, and reaches the engine, which names the error.
            var length = new FileInfo(file).Length;
            hash.AppendData(Encoding.UTF8.GetBytes(length + "\n"));
            if (length == 0) continue;
            using var stream = File.OpenRead(file);
            for (long left = length; left > 0;)
            {
                var read = stream.Read(buffer, 0, (int)Math.Min(buffer.Length, left));
                if (read == 0) break;
                hash.AppendData(buffer, 0, read);
                left -= read;
            }
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}

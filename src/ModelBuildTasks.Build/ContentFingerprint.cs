using System.Security.Cryptography;
using System.Text;

namespace ModelBuildTasks.Build;

/// <summary>
/// A SHA-256 over the bytes of a model, its data files and its settings. The task compares it with
/// the one stored beside the outputs: equal means nothing changed, whatever the timestamps say (a git
/// checkout or a restored CI cache touches files without changing them).
/// </summary>
sealed class ContentFingerprint : IDisposable
{
    readonly IncrementalHash hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    readonly byte[] buffer = new byte[1 << 16];

    /// <summary>Starts a fingerprint of <paramref name="settings"/>; the files follow, in order.</summary>
    public ContentFingerprint(string settings) => hash.AppendData(Encoding.UTF8.GetBytes(settings + "\n"));

    /// <summary>The fingerprint of <paramref name="settings"/> and <paramref name="files"/>.</summary>
    public static string Compute(IEnumerable<string> files, string settings)
    {
        using var fingerprint = new ContentFingerprint(settings);
        foreach (var file in files) fingerprint.Add(file);
        return fingerprint.Finish();
    }

    /// <summary>Adds a file whose bytes the task already holds (the model, read once for its signature too); hashed as <see cref="Add(string, string)"/> hashes it from disk.</summary>
    public void Add(string file, byte[] bytes)
    {
        Header(Path.GetFileName(file), bytes.LongLength);
        hash.AppendData(bytes);
    }

    /// <summary>Adds a file, read from disk, under <paramref name="name"/> (its file name when null).</summary>
    /// <param name="file">The file.</param>
    /// <param name="name">What the file is called where it matters: a dataset's files by their path inside the dataset,
    /// since an image folder's subfolders are its class names.</param>
    public void Add(string file, string? name = null)
    {
        // Only the length the file system reports is hashed, and nothing is opened when it is 0:
        // a FIFO (which would block the open) or a device (endless) reports 0, hashes like an empty
        // file, never matches a stored stamp, and reaches the engine, which names the error.
        var length = new FileInfo(file).Length;
        Header(name ?? Path.GetFileName(file), length);
        if (length == 0) return;
        using var stream = File.OpenRead(file);
        for (long left = length; left > 0;)
        {
            var read = stream.Read(buffer, 0, (int)Math.Min(buffer.Length, left));
            if (read == 0) break;
            hash.AppendData(buffer, 0, read);
            left -= read;
        }
    }

    /// <summary>The fingerprint of everything added.</summary>
    public string Finish() => Convert.ToHexStringLower(hash.GetHashAndReset());

    /// <inheritdoc />
    public void Dispose() => hash.Dispose();

    void Header(string name, long length)
    {
        hash.AppendData(Encoding.UTF8.GetBytes(name + "\n"));
        hash.AppendData(Encoding.UTF8.GetBytes(length + "\n"));
    }
}

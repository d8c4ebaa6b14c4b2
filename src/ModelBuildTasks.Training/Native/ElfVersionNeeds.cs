using System.Buffers.Binary;
using System.Text;

namespace ModelBuildTasks.Training.Native;

/// <summary>
/// Edits the version needs (<c>.gnu.version_r</c>) of a 64-bit little-endian ELF shared library.
/// TorchSharp 0.107's <c>libLibTorchSharp.so</c> needs <c>GLIBCXX_3.4.32</c> only for a dummy
/// symbol nobody calls; marking that need weak (<c>VER_FLG_WEAK</c>) lets the loader accept a
/// libstdc++ without it (Debian 12's), with no other change to the file.
/// </summary>
public static class ElfVersionNeeds
{
    const uint ShtGnuVerneed = 0x6ffffffe;
    const ushort VerFlgWeak = 0x2;

    /// <summary>The version needs of the library, as (library, version, weak) triples.</summary>
    public static IReadOnlyList<(string File, string Version, bool Weak)> Read(byte[] elf)
    {
        var result = new List<(string, string, bool)>();
        Walk(elf, (file, version, flagsOffset) =>
            result.Add((file, version, (BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(flagsOffset)) & VerFlgWeak) != 0)));
        return result;
    }

    /// <summary>Marks the need for <paramref name="version"/> weak; returns true if the bytes changed.</summary>
    public static bool MarkWeak(byte[] elf, string version)
    {
        var changed = false;
        Walk(elf, (_, name, flagsOffset) =>
        {
            if (name != version) return;
            var flags = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(flagsOffset));
            if ((flags & VerFlgWeak) != 0) return;
            BinaryPrimitives.WriteUInt16LittleEndian(elf.AsSpan(flagsOffset), (ushort)(flags | VerFlgWeak));
            changed = true;
        });
        return changed;
    }

    // Calls visit(file, version, offset of vna_flags) for every Vernaux entry.
    static void Walk(byte[] elf, Action<string, string, int> visit)
    {
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != 'E' || elf[2] != 'L' || elf[3] != 'F')
            throw new InvalidDataException("not an ELF file");
        if (elf[4] != 2 || elf[5] != 1) throw new InvalidDataException("only 64-bit little-endian ELF files are supported");
        var sectionTable = checked((int)BinaryPrimitives.ReadUInt64LittleEndian(elf.AsSpan(0x28)));
        var entrySize = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(0x3A));
        var count = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(0x3C));
        for (var i = 0; i < count; i++)
        {
            var header = elf.AsSpan(sectionTable + i * entrySize, entrySize);
            if (BinaryPrimitives.ReadUInt32LittleEndian(header[4..]) != ShtGnuVerneed) continue;
            var offset = checked((int)BinaryPrimitives.ReadUInt64LittleEndian(header[0x18..]));
            var stringsSection = (int)BinaryPrimitives.ReadUInt32LittleEndian(header[0x28..]);
            var needs = (int)BinaryPrimitives.ReadUInt32LittleEndian(header[0x2C..]);
            var stringsHeader = elf.AsSpan(sectionTable + stringsSection * entrySize, entrySize);
            var strings = checked((int)BinaryPrimitives.ReadUInt64LittleEndian(stringsHeader[0x18..]));

            var need = offset;
            for (var n = 0; n < needs; n++)
            {
                var auxCount = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(need + 2));
                var file = CString(elf, strings + (int)BinaryPrimitives.ReadUInt32LittleEndian(elf.AsSpan(need + 4)));
                var aux = need + (int)BinaryPrimitives.ReadUInt32LittleEndian(elf.AsSpan(need + 8));
                for (var a = 0; a < auxCount; a++)
                {
                    var name = CString(elf, strings + (int)BinaryPrimitives.ReadUInt32LittleEndian(elf.AsSpan(aux + 8)));
                    visit(file, name, aux + 4);
                    aux += (int)BinaryPrimitives.ReadUInt32LittleEndian(elf.AsSpan(aux + 12));
                }
                need += (int)BinaryPrimitives.ReadUInt32LittleEndian(elf.AsSpan(need + 12));
            }
        }
    }

    static string CString(byte[] bytes, int start)
    {
        var end = Array.IndexOf(bytes, (byte)0, start);
        return Encoding.ASCII.GetString(bytes, start, end - start);
    }
}

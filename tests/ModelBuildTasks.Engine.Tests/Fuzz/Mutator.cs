using System.Buffers.Binary;

namespace ModelBuildTasks.Engine.Tests.Fuzz;

/// <summary>Seeded byte-level mutations: truncation, bit flips, and "interesting" integers written over length fields.</summary>
sealed class Mutator(int seed)
{
    public Random Random { get; } = new(seed);

    static readonly ulong[] Interesting =
    [
        0, 1, 2, 7, 8, 0x7F, 0x80, 0xFF, 0x100, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF,
        1UL << 32, 1UL << 40, 0x7FFFFFFFFFFFFFFF, 0x8000000000000000, ulong.MaxValue, 1 << 20, 1 << 30, 64, 4096,
    ];

    public ulong InterestingValue() => Random.Next(4) == 0 ? (ulong)Random.NextInt64() : Interesting[Random.Next(Interesting.Length)];

    /// <summary>One to a few mutations of <paramref name="input"/>, or at most <paramref name="protect"/> bytes at the start kept.</summary>
    public byte[] Mutate(byte[] input, int protect = 0)
    {
        var bytes = input.ToArray();
        var rounds = 1 + Random.Next(3);
        for (var r = 0; r < rounds && bytes.Length > protect; r++)
        {
            switch (Random.Next(5))
            {
                case 0: // truncation
                    bytes = bytes[..Random.Next(protect, bytes.Length)];
                    break;
                case 1: // bit flips
                    for (var i = 0; i < 1 + Random.Next(8); i++)
                    {
                        var at = Random.Next(protect, bytes.Length);
                        bytes[at] ^= (byte)(1 << Random.Next(8));
                    }
                    break;
                case 2: // a crafted integer over whatever is there
                {
                    var width = new[] { 1, 2, 4, 8 }[Random.Next(4)];
                    if (bytes.Length - protect < width) break;
                    var at = Random.Next(protect, bytes.Length - width + 1);
                    var value = InterestingValue();
                    var little = Random.Next(2) == 0;
                    for (var i = 0; i < width; i++)
                        bytes[at + (little ? i : width - 1 - i)] = (byte)(value >> (8 * i));
                    break;
                }
                case 3: // a random byte run
                {
                    var at = Random.Next(protect, bytes.Length);
                    var run = Math.Min(bytes.Length - at, 1 + Random.Next(16));
                    Random.NextBytes(bytes.AsSpan(at, run));
                    break;
                }
                default: // a duplicated or removed chunk (shifts every later offset)
                {
                    var at = Random.Next(protect, bytes.Length);
                    var length = Math.Min(bytes.Length - at, 1 + Random.Next(64));
                    bytes = Random.Next(2) == 0
                        ? [.. bytes[..at], .. bytes.AsSpan(at, length), .. bytes[at..]]
                        : [.. bytes[..at], .. bytes[(at + length)..]];
                    break;
                }
            }
        }
        return bytes;
    }

    /// <summary>Writes a crafted value at a known field (little-endian), as a writer with its own idea of lengths would.</summary>
    public void Craft(byte[] bytes, int at, int width)
    {
        if (at < 0 || at + width > bytes.Length) return;
        var value = InterestingValue();
        switch (width)
        {
            case 1: bytes[at] = (byte)value; break;
            case 2: BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(at), (ushort)value); break;
            case 4: BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(at), (uint)value); break;
            default: BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(at), value); break;
        }
    }
}

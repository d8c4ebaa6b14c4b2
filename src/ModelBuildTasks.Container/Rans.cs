using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ModelBuildTasks.Container;

/// <summary>
/// Static range-ANS coding of byte symbols (docs/format.md, "rANS"): a 32-bit state renormalized a
/// byte at a time, with frequencies quantized to a power of two, either one table for the whole
/// stream (order 0) or one per previous symbol (order 1). A static coder reaches the entropy of its
/// table to within a few bytes, where Huffman loses up to a bit per symbol on the 4-5-bit weights
/// deep compression leaves; decoding is one table lookup, a multiply and a shift per symbol.
/// </summary>
static class Rans
{
    /// <summary>The state's lower bound: states live in [L, 256 L).</summary>
    public const uint L = 1u << 23;

    /// <summary>Frequencies of an order-0 table sum to 2^15.</summary>
    public const int Order0Bits = 15;

    /// <summary>
    /// Frequencies of each order-1 row sum to 2^12: the decoder's tables take 5 bytes per slot, so
    /// the 15 rows of 4-bit weights fit a core's L2 cache (300 KiB), which rows of 2^15 would not.
    /// </summary>
    public const int Order1Bits = 12;

    /// <summary>An order-1 model is allowed for at most this many distinct symbols (its table has K^2 entries).</summary>
    public const int MaxOrder1Symbols = 32;

    /// <summary>
    /// Scales <paramref name="counts"/> to integer frequencies that sum to exactly 2^<paramref name="bits"/>:
    /// every symbol with a count gets at least 1, a symbol without one gets 0 (all 0 when nothing was
    /// counted). Integer arithmetic only (largest remainders, ties to the lower index), so every
    /// machine builds the same table.
    /// </summary>
    public static int[] Normalize(ReadOnlySpan<long> counts, int bits)
    {
        var total = 0L;
        var used = 0;
        foreach (var c in counts) { total += c; if (c > 0) used++; }
        var m = 1L << bits;
        var freqs = new int[counts.Length];
        if (total == 0) return freqs;
        if (used > m) throw new ArgumentException("more symbols than frequency slots", nameof(counts));
        var sum = 0L;
        for (var i = 0; i < counts.Length; i++)
        {
            if (counts[i] == 0) continue;
            freqs[i] = (int)Math.Max(1, counts[i] * m / total);
            sum += freqs[i];
        }
        if (sum < m)
        {
            // Floors lose less than one slot per symbol, so one pass over the largest remainders fills the gap.
            var c = counts.ToArray();
            var order = Enumerable.Range(0, c.Length).Where(i => c[i] > 0)
                .OrderByDescending(i => c[i] * m % total).ThenBy(i => i).ToArray();
            for (var k = 0; sum < m; k = (k + 1) % order.Length, sum++) freqs[order[k]]++;
        }
        while (sum > m)
        {
            // Symbols raised to 1 overdraw: take back from the largest frequencies, where a slot costs least.
            var largest = 0;
            for (var i = 1; i < freqs.Length; i++) if (freqs[i] > freqs[largest]) largest = i;
            freqs[largest]--;
            sum--;
        }
        return freqs;
    }

    /// <summary>The payload starts with the two interleaved states, 4 bytes each.</summary>
    public const int StateBytes = 8;

    /// <summary>
    /// Encodes <paramref name="symbols"/> (each an index into the table rows) with order-0 frequencies
    /// (<paramref name="contexts"/> = 1) or order-1 rows (row = the previous symbol's index, 0 for the
    /// first). Two states take turns (even positions state 0, odd ones state 1), so a decoder works on
    /// two independent dependency chains at once.
    /// </summary>
    /// <param name="symbols">Symbol indices, each below the row length.</param>
    /// <param name="freqs">Row-major frequencies, <paramref name="contexts"/> rows of the same length; a row a symbol is coded in never has a 0 there.</param>
    /// <param name="contexts">1 (order 0) or the alphabet size (order 1).</param>
    /// <param name="bits">The rows' frequency total, as a power of two.</param>
    public static byte[] Encode(ReadOnlySpan<byte> symbols, ReadOnlySpan<int> freqs, int contexts, int bits)
    {
        var k = freqs.Length / contexts;
        var starts = Starts(freqs, contexts);
        var table = new EncoderSymbol[freqs.Length];
        for (var s = 0; s < freqs.Length; s++) if (freqs[s] > 0) table[s] = new EncoderSymbol((uint)freqs[s], (uint)starts[s], bits);
        // rANS codes backwards, so the bytes come out in reverse: fill a buffer from its end. A symbol
        // costs at most `bits` bits (frequency 1), so two bytes each always fit.
        var buffer = new byte[2L * symbols.Length + StateBytes];
        var at = buffer.Length;
        uint x0 = L, x1 = L;
        var order1 = contexts > 1;
        var i = symbols.Length - 1;
        // Even positions use state 0 and odd ones state 1; an odd count leaves one even position at the end.
        if ((symbols.Length & 1) == 1) { Put(ref x0, table, Row(symbols, i, k, order1) + symbols[i], buffer, ref at); i--; }
        for (; i >= 1; i -= 2)
        {
            Put(ref x1, table, Row(symbols, i, k, order1) + symbols[i], buffer, ref at);
            Put(ref x0, table, Row(symbols, i - 1, k, order1) + symbols[i - 1], buffer, ref at);
        }
        at -= StateBytes;
        BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(at), x0);
        BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(at + 4), x1);
        return buffer[at..];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static int Row(ReadOnlySpan<byte> symbols, int i, int k, bool order1) => order1 && i > 0 ? symbols[i - 1] * k : 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Put(ref uint x, EncoderSymbol[] table, int index, byte[] buffer, ref int at)
    {
        ref readonly var e = ref table[index];
        while (x >= e.Max)
        {
            buffer[--at] = (byte)x;
            x >>= 8;
        }
        x = e.Next(x);
    }

    /// <summary>
    /// One symbol's encoding step, x -> (x / f) * 2^bits + x % f + start, rewritten as
    /// x + start + q * (2^bits - f) with q = x / f taken by a multiply with a rounded-up reciprocal
    /// (exact for every x below 2^31, the states' range), since a division per symbol dominated packing.
    /// </summary>
    readonly struct EncoderSymbol
    {
        public readonly uint Max;        // the state must be below this before the step: renormalize until it is
        readonly uint reciprocal, bias, complement;
        readonly int shift;

        public EncoderSymbol(uint freq, uint start, int bits)
        {
            Max = ((L >> bits) << 8) * freq;
            complement = (1u << bits) - freq;
            if (freq == 1)
            {
                // q = x - 1 (x * (2^32 - 1) >> 32, x >= 1), and the bias adds back the missing 2^bits - 1.
                reciprocal = uint.MaxValue;
                shift = 32;
                bias = start + (1u << bits) - 1;
            }
            else
            {
                var ceilLog2 = 0;
                while (freq > 1u << ceilLog2) ceilLog2++;
                reciprocal = (uint)(((1UL << (ceilLog2 + 31)) + freq - 1) / freq);
                shift = 32 + ceilLog2 - 1;
                bias = start;
            }
        }

        public uint Next(uint x) => x + bias + (uint)(((ulong)x * reciprocal) >> shift) * complement;
    }

    // Cumulative starts per row.
    static int[] Starts(ReadOnlySpan<int> freqs, int contexts)
    {
        var k = freqs.Length / contexts;
        var starts = new int[freqs.Length];
        for (var r = 0; r < contexts; r++)
        {
            var sum = 0;
            for (var s = 0; s < k; s++) { starts[r * k + s] = sum; sum += freqs[r * k + s]; }
        }
        return starts;
    }

    /// <summary>
    /// Decodes <paramref name="count"/> symbols from <paramref name="payload"/> into
    /// <c>output[first + i * stride]</c> (one byte plane of a tensor), mapping symbol indices through
    /// <paramref name="alphabet"/>. Tables must already be validated (each row sums to 2^bits, or to 0
    /// for a row no symbol follows). Both states must end where the encoder started (L) with every byte
    /// used: anything else is a damaged or crafted payload. A crafted stream that reaches an empty row
    /// takes symbol 0 and state 0 there (docs/format.md), in both lookups alike, without leaving its buffers.
    /// </summary>
    public static void Decode(ReadOnlySpan<byte> payload, ReadOnlySpan<byte> alphabet, ReadOnlySpan<int> freqs, int contexts, int bits,
        Span<byte> output, int first, int stride, int count, long fileOffset)
    {
        if (count > 0 && (first < 0 || first + (long)(count - 1) * stride >= output.Length)) throw new ArgumentOutOfRangeException(nameof(count));
        if (payload.Length < StateBytes) throw new ContainerFormatException("a rANS stream is shorter than its two states", fileOffset);
        var x0 = BinaryPrimitives.ReadUInt32LittleEndian(payload);
        var x1 = BinaryPrimitives.ReadUInt32LittleEndian(payload[4..]);
        if (x0 < L || x0 >= L << 8 || x1 < L || x1 >= L << 8) throw new ContainerFormatException("a rANS stream starts with an invalid state", fileOffset);
        var at = StateBytes;
        // A table with an entry per slot pays off on planes several times its size. A smaller plane
        // (such as each of a crafted file's thousands of tiny planes) searches its row instead, so a
        // reader's memory and time stay proportional to what it decodes.
        if ((long)contexts << bits <= 4L * count)
            DecodeWithTables(payload, alphabet, freqs, contexts, bits, output, first, stride, count, ref x0, ref x1, ref at, fileOffset);
        else
            DecodeBySearch(payload, alphabet, freqs, contexts, bits, output, first, stride, count, ref x0, ref x1, ref at, fileOffset);
        if (x0 != L || x1 != L || at != payload.Length) throw new ContainerFormatException("a rANS stream does not end where its encoder started (damaged)", fileOffset + at);
    }

    internal static void DecodeWithTables(ReadOnlySpan<byte> payload, ReadOnlySpan<byte> alphabet, ReadOnlySpan<int> freqs, int contexts, int bits,
        Span<byte> output, int first, int stride, int count, ref uint x0, ref uint x1, ref int at, long fileOffset)
    {
        var k = alphabet.Length;
        var m = 1 << bits;
        // Per slot of each row: (frequency << 16) | (slot - start), and the symbol's index. An empty row stays 0.
        var entries = new uint[contexts * m];
        var indices = new byte[contexts * m];
        for (var r = 0; r < contexts; r++)
        {
            var start = 0;
            for (var s = 0; s < k; s++)
            {
                var f = freqs[r * k + s];
                for (var slot = start; slot < start + f; slot++)
                {
                    entries[r * m + slot] = ((uint)f << 16) | (uint)(slot - start);
                    indices[r * m + slot] = (byte)s;
                }
                start += f;
            }
        }
        var mask = (uint)m - 1;
        var rowBase = 0;
        var order1 = contexts > 1;
        // Every index below is a row base plus a masked slot into the tables just sized, or a symbol
        // index below k into the alphabet, and the output positions were checked: no bounds checks.
        ref var entry0 = ref MemoryMarshal.GetArrayDataReference(entries);
        ref var index0 = ref MemoryMarshal.GetArrayDataReference(indices);
        ref var alphabet0 = ref MemoryMarshal.GetReference(alphabet);
        ref var out0 = ref MemoryMarshal.GetReference(output);
        var position = first;
        var i = 0;
        for (; i + 1 < count; i += 2)
        {
            Unsafe.Add(ref out0, position) = Step(ref x0, ref entry0, ref index0, ref alphabet0, ref rowBase, mask, bits, order1, payload, ref at, fileOffset);
            position += stride;
            Unsafe.Add(ref out0, position) = Step(ref x1, ref entry0, ref index0, ref alphabet0, ref rowBase, mask, bits, order1, payload, ref at, fileOffset);
            position += stride;
        }
        if (i < count) Unsafe.Add(ref out0, position) = Step(ref x0, ref entry0, ref index0, ref alphabet0, ref rowBase, mask, bits, order1, payload, ref at, fileOffset);
    }

    // The same steps as the tables give, finding each slot's symbol by binary search in its row's starts.
    internal static void DecodeBySearch(ReadOnlySpan<byte> payload, ReadOnlySpan<byte> alphabet, ReadOnlySpan<int> freqs, int contexts, int bits,
        Span<byte> output, int first, int stride, int count, ref uint x0, ref uint x1, ref int at, long fileOffset)
    {
        var k = alphabet.Length;
        var starts = Starts(freqs, contexts);
        var mask = (uint)(1 << bits) - 1;
        var row = 0;
        for (var i = 0; i < count; i++)
        {
            ref var x = ref (i & 1) == 0 ? ref x0 : ref x1;
            var slot = (int)(x & mask);
            // The last symbol starting at or before the slot: it has a frequency above 0, unless the row is empty.
            int low = 0, high = k - 1;
            while (low < high)
            {
                var middle = (low + high + 1) >> 1;
                if (starts[row * k + middle] <= slot) low = middle; else high = middle - 1;
            }
            var f = (uint)freqs[row * k + low];
            var s = f == 0 ? 0 : low;
            x = f == 0 ? 0 : f * (x >> bits) + (uint)(slot - starts[row * k + s]);
            while (x < L)
            {
                if (at >= payload.Length) throw new ContainerFormatException("a rANS stream ends too early", fileOffset + at);
                x = (x << 8) | payload[at++];
            }
            output[first + i * stride] = alphabet[s];
            if (contexts > 1) row = s;
        }
    }

    // One symbol: look up its slot, advance the state, refill it from the payload.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static byte Step(ref uint x, ref uint entry0, ref byte index0, ref byte alphabet0, ref int rowBase, uint mask, int bits, bool order1,
        ReadOnlySpan<byte> payload, ref int at, long fileOffset)
    {
        var slot = (int)(x & mask);
        var e = Unsafe.Add(ref entry0, rowBase + slot);
        var s = Unsafe.Add(ref index0, rowBase + slot);
        x = (e >> 16) * (x >> bits) + (e & 0xFFFF);
        while (x < L)
        {
            if (at >= payload.Length) throw new ContainerFormatException("a rANS stream ends too early", fileOffset + at);
            x = (x << 8) | payload[at++];
        }
        if (order1) rowBase = s << bits;
        return Unsafe.Add(ref alphabet0, s);
    }
}

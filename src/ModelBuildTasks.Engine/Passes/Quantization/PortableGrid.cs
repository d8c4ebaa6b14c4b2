namespace ModelBuildTasks.Passes.Quantization;

/// <summary>
/// The widest weight grid whose integer results do not depend on the CPU that runs the model.
/// </summary>
/// <remarks>
/// ONNX Runtime multiplies uint8 activations (0..255) by int8 weights. On x86-64 with AVX2 (or
/// AVX-512) but without VNNI, its kernels use <c>vpmaddubsw</c>, which adds each pair of adjacent
/// u8 x s8 products into a 16-bit integer and saturates at 32,767. With full-range 8-bit weights a
/// pair reaches 2 x 255 x 127 = 64,770 and is clipped, so the same model predicts differently there
/// than on VNNI or ARM64 CPUs, which accumulate in 32 bits. With 7-bit weights (|q| &lt;= 63) a pair
/// is at most 2 x 255 x 63 = 32,130, which never saturates: every kernel then computes the exact
/// integer sum and the predictions are the same on every CPU. That is also why ONNX Runtime's own
/// quantizer offers <c>reduce_range</c>.
/// </remarks>
public static class PortableGrid
{
    /// <summary>The most weight bits any compression uses: 7 (|q| &lt;= 63).</summary>
    public const int MaxBits = 7;

    /// <summary>The largest product pair a CPU without VNNI adds in 16 bits, for <paramref name="bits"/>-bit weights and uint8 activations.</summary>
    public static int LargestPairSum(int bits) => 2 * 255 * ((1 << (bits - 1)) - 1);

    /// <summary>Whether <paramref name="bits"/>-bit weights stay exact under 16-bit pair sums.</summary>
    public static bool IsPortable(int bits) => LargestPairSum(bits) <= short.MaxValue;
}

using System.Runtime.ExceptionServices;

namespace ModelBuildTasks.Runtime;

/// <summary>
/// A batch run as one contiguous part per thread, all at once: at small image sizes an int8 operator runs for
/// microseconds, too short for ONNX Runtime to share between intra-op threads, and whole images in parallel keep
/// every thread busy (the 28x28 samples ran 1.2-1.4x faster at batch 64 on two threads). The shipped
/// <c>CompressedModel</c> and the engine's evaluation runner (which links this file) both split this way.
/// </summary>
internal static class BatchParts
{
    /// <summary>Images per ONNX Runtime run when the model's batch size is free.</summary>
    public const int MaxImagesPerRun = 64;

    /// <summary>
    /// Input values per run: larger images get fewer per run (at least one). ONNX Runtime keeps the activations
    /// in an arena sized by its largest run and never gives it back: one call with 10,000 28x28 images held
    /// 2 GB for the rest of the process and ran 2-3x slower per image than runs of 64.
    /// </summary>
    public const long MaxValuesPerRun = 1L << 20;

    /// <summary>Images per run of images of <paramref name="imageSize"/> values, at most <paramref name="maxImages"/>.</summary>
    public static int ImagesPerRun(long imageSize, int maxImages = MaxImagesPerRun, long maxValues = MaxValuesPerRun) =>
        (int)Math.Clamp(maxValues / Math.Max(1, imageSize), 1, maxImages);

    /// <summary>
    /// Calls <paramref name="run"/>(part, first image, images) for <paramref name="count"/> images cut into
    /// <paramref name="parts"/> nearly equal parts, in parallel; rethrows what a part throws, as a single run would.
    /// </summary>
    public static void Run(int count, int parts, Action<int, int, int> run)
    {
        try
        {
            Parallel.For(0, parts, new ParallelOptions { MaxDegreeOfParallelism = parts }, p =>
            {
                var first = count * p / parts;
                run(p, first, count * (p + 1) / parts - first);
            });
        }
        catch (AggregateException e)
        {
            ExceptionDispatchInfo.Throw(e.InnerExceptions[0]);
        }
    }
}

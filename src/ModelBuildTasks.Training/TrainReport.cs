namespace ModelBuildTasks.Training;

/// <summary>What a training run did.</summary>
/// <param name="Epochs">Epochs completed (fractional when a time budget stopped it mid-epoch).</param>
/// <param name="Steps">Optimizer steps taken.</param>
/// <param name="Seconds">Wall-clock time.</param>
/// <param name="ImagesPerSecond">Training throughput.</param>
/// <param name="FinalLoss">Mean loss over the last epoch's batches.</param>
/// <param name="Threads">libtorch intra-op threads used.</param>
/// <param name="NativeStatus">What the native-library setup did (patched, already patched, not needed).</param>
/// <param name="SkippedSteps">Batches undone because their loss or a gradient was not finite (counted in <paramref name="Steps"/>).</param>
public sealed record TrainReport(double Epochs, int Steps, double Seconds, double ImagesPerSecond, double FinalLoss, int Threads, string NativeStatus, int SkippedSteps);

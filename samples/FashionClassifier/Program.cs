using System.Diagnostics;
using FashionApp;
using Microsoft.ML.OnnxRuntime;

// The app's own code: one call per image to the class the build generated.
var (images, labels, count) = FashionMnist.Load(Path.Combine(AppContext.BaseDirectory, "t10k-images-idx3-ubyte.gz"),
                                                Path.Combine(AppContext.BaseDirectory, "t10k-labels-idx1-ubyte.gz"));
var classifier = FashionClassifier.Instance;
var first = classifier.Predict(images.AsSpan(0, FashionClassifier.InputSize));
Console.WriteLine($"First test image: {first.Label} ({first.Score:P1}); truth: {FashionClassifier.Labels[labels[0]]}");

// Everything below only compares against the original fp32 model, for the demo.
var compressed = classifier.Predict(images, count);
var compressedAccuracy = compressed.Where((p, i) => p.ClassIndex == labels[i]).Count() / (double)count;

using var original = new InferenceSession(Path.Combine(AppContext.BaseDirectory, "fashion_vgg.onnx"));
using var runOptions = new RunOptions();
int[] OriginalPredict(float[] batch, int n)
{
    using var input = OrtValue.CreateTensorValueFromMemory(batch, [n, 1, 28, 28]);
    using var outputs = original.Run(runOptions, ["input"], [input], ["logits"]);
    var logits = outputs[0].GetTensorDataAsSpan<float>().ToArray();
    return Enumerable.Range(0, n).Select(i => { var row = logits.AsSpan(i * 10, 10); var best = 0; for (var k = 1; k < 10; k++) if (row[k] > row[best]) best = k; return best; }).ToArray();
}
var originalAccuracy = OriginalPredict(images, count).Where((p, i) => p == labels[i]).Count() / (double)count;

double MedianMs(Action run)
{
    for (var i = 0; i < 20; i++) run();
    var times = new double[300];
    for (var i = 0; i < times.Length; i++) { var t = Stopwatch.GetTimestamp(); run(); times[i] = Stopwatch.GetElapsedTime(t).TotalMilliseconds; }
    Array.Sort(times);
    return times[times.Length / 2];
}
var one = images.AsSpan(0, FashionClassifier.InputSize).ToArray();
var originalMs = MedianMs(() => OriginalPredict(one, 1));
var compressedMs = MedianMs(() => classifier.Predict(one));

var originalBytes = new FileInfo(Path.Combine(AppContext.BaseDirectory, "fashion_vgg.onnx")).Length;
using var resource = typeof(FashionClassifier).Assembly.GetManifestResourceStream(FashionClassifier.ResourceName)!;
Console.WriteLine();
Console.WriteLine($"                     fp32 original      embedded compressed");
Console.WriteLine($"test accuracy        {originalAccuracy,14:P2}      {compressedAccuracy,14:P2}   ({(compressedAccuracy - originalAccuracy) * 100:+0.00;-0.00} points, {count} held-out images)");
Console.WriteLine($"model bytes          {originalBytes,14:N0}      {resource.Length,14:N0}   ({(double)originalBytes / resource.Length:0.00}x smaller)");
Console.WriteLine($"latency per image    {originalMs,11:0.000} ms      {compressedMs,11:0.000} ms   ({originalMs / compressedMs:0.00}x faster, median of 300)");
Console.WriteLine($"compression          {string.Join(", ", classifier.Model.Metadata.Compression.Select(kv => $"{kv.Key}={kv.Value}"))}");

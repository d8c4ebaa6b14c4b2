using System.Globalization;
using System.Text.Json;
using ModelBuildTasks.Data;
using ModelBuildTasks.Evaluation;
using ModelBuildTasks.Graph;
using ModelBuildTasks.Samples.Trainer;
using ModelBuildTasks.Training;

// Trains one sample family on full Fashion-MNIST and writes it as ONNX (BatchNorm kept, as network
// slimming needs it). Usage:
//   sample-trainer FAMILY --epochs N [--seed S] [--lr LR] [--data DIR] -o OUT.onnx
// The full dataset comes from build/install-datasets.sh (Debian package dataset-fashion-mnist).
var family = args.Length > 0 ? args[0] : throw new ArgumentException("usage: sample-trainer vgg|resnet|densenet --epochs N -o OUT.onnx");
string Option(string name, string fallback) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
var epochs = int.Parse(Option("--epochs", "5"), CultureInfo.InvariantCulture);
var seed = int.Parse(Option("--seed", "1"), CultureInfo.InvariantCulture);
var lr = double.Parse(Option("--lr", "0.002"), CultureInfo.InvariantCulture);
var dataDir = Option("--data", "/usr/share/datasets/fashion-mnist");
var output = Option("-o", $"samples/models/fashion_{family}.onnx");

var train = DatasetLoader.Load(Path.Combine(dataDir, "train-images-idx3-ubyte.gz"));
var test = DatasetLoader.Load(Path.Combine(dataDir, "t10k-images-idx3-ubyte.gz"));
var model = Architectures.Build(family, seed);
model.Metadata["labels"] = "T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle boot";
model.Metadata["preprocess"] = PreprocessSpec.Default.ToString();
model.Metadata["dataset"] = "Fashion-MNIST";
Console.Error.WriteLine($"{family}: {model.Graph.ParameterCount:N0} parameters, {train.Count} training images, {epochs} epochs");

var options = new TrainOptions { Epochs = epochs, Seed = seed, LearningRate = lr, Schedule = LearningRateSchedule.Cosine, HorizontalFlip = true, BatchSize = 128 };
var report = Trainer.Train(model, train, options, progress: new Progress<ModelBuildTasks.Progress.ProgressUpdate>(u =>
{
    if (u.Done % 100 == 0) Console.Error.WriteLine($"  step {u.Done}/{u.Total}");
}));
var evaluation = Evaluator.Evaluate(OnnxExport.ToBytes(model), test, latencySamples: 50);
ModelFile.Save(model, output);

Console.WriteLine(JsonSerializer.Serialize(new
{
    family, seed, epochs, learning_rate = lr,
    parameters = model.Graph.ParameterCount,
    train_seconds = Math.Round(report.Seconds, 1),
    images_per_second = Math.Round(report.ImagesPerSecond),
    threads = report.Threads,
    test_accuracy = evaluation.Accuracy,
    bytes = new FileInfo(output).Length,
    native = report.NativeStatus,
    command = $"dotnet run --project samples/Trainer -c Release -- {string.Join(' ', args)}",
}));

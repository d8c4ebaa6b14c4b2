using System.CommandLine;
using ModelBuildTasks.Data;

namespace ModelBuildTasks.Cli.Commands;

/// <summary><c>subset DATASET --count N --seed S -o IMAGES.gz</c>: a seeded sample of an 8-bit dataset, written as IDX.</summary>
static class SubsetCommand
{
    public static Command Create()
    {
        var data = new Argument<string>("DATASET") { Description = "The dataset to sample from." };
        var count = new Option<int>("--count") { Description = "Images to draw.", Required = true };
        var seed = new Option<int>("--seed") { Description = "Random seed.", DefaultValueFactory = _ => 1 };
        var skip = new Option<int>("--skip") { Description = "Skip the first N drawn images (draw disjoint subsets with the same seed).", DefaultValueFactory = _ => 0 };
        var output = new Option<string>("--output", "-o") { Description = "The IDX images file to write (e.g. train-images-idx3-ubyte.gz); labels go beside it.", Required = true, HelpName = "IMAGES.gz" };
        var command = new Command("subset", "Write a seeded random sample of a dataset as IDX files (a small calibration or test set).") { data, count, seed, skip, output };
        command.SetAction(result => ExitCodes.Guard(() =>
        {
            var source = DatasetLoader.LoadRaw(result.GetValue(data)!);
            if (!source.EightBit) throw new ModelBuildException(ErrorCodes.InvalidSetting, "subset writes IDX, which needs 8-bit pixel data", source.Source);
            // IDX labels are bare bytes, read as the model's class indices: folders named by class are in name order, not the model's.
            if (source.ClassNames is { } names)
            {
                if (LabelNames.Numbered(names, 256) is null)
                    throw new ModelBuildException(ErrorCodes.InvalidSetting,
                        $"the dataset names its classes by folder ({string.Join(", ", names.Take(4))}{(names.Count > 4 ? ", ..." : "")}), and IDX labels are class indices, "
                        + "which a model would read in its own class order, not the folders': sample the folders themselves, or name them by class index (0, 1, ...)", source.Source);
                source = LabelNames.Align(source, null, 256);
            }
            if (source.Labels is { } all && all.Any(l => l is < 0 or > 255))
                throw new ModelBuildException(ErrorCodes.InvalidSetting, $"IDX label files hold one byte per label; this dataset has label {all.First(l => l is < 0 or > 255)}", source.Source);
            var n = result.GetValue(count);
            if (n < 1) throw new ModelBuildException(ErrorCodes.InvalidSetting, "--count must be at least 1");
            var first = result.GetValue(skip);
            if (first < 0) throw new ModelBuildException(ErrorCodes.InvalidSetting, $"--skip must be 0 or more, not {first}");
            if ((long)first + n > source.Count) throw new ModelBuildException(ErrorCodes.InvalidSetting, $"--skip {first} --count {n} needs {(long)first + n} images; the dataset has {source.Count}");
            var sample = source.Subset(DatasetSplit.Permutation(source.Count, result.GetValue(seed))[first..(first + n)]);
            var imagesPath = result.GetValue(output)!;
            if (!Path.GetFileName(imagesPath).Contains("images", StringComparison.Ordinal))
                throw new ModelBuildException(ErrorCodes.InvalidSetting, "the output name must contain 'images' so the labels file can be named after it", imagesPath);
            var labelsPath = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(imagesPath))!, DatasetFiles.LabelsFileName(Path.GetFileName(imagesPath)));
            var inputs = new OutputPaths.Inputs(DatasetFiles.Enumerate(result.GetValue(data)!).Select(f => f.Full));
            OutputPaths.CheckWritable(imagesPath, "--output", inputs);
            OutputPaths.CheckWritable(labelsPath, "--output (its labels file)", inputs);
            // IDX stores H x W x C; the dataset holds C x H x W.
            var hwc = new byte[sample.Pixels.Length];
            var plane = sample.Height * sample.Width;
            for (var i = 0; i < sample.Count; i++)
            for (var c = 0; c < sample.Channels; c++)
            for (var p = 0; p < plane; p++)
                hwc[i * sample.ImageSize + p * sample.Channels + c] = (byte)sample.Pixels[i * sample.ImageSize + c * plane + p];
            int[] dims = sample.Channels == 1 ? [sample.Count, sample.Height, sample.Width] : [sample.Count, sample.Height, sample.Width, sample.Channels];
            IdxFormat.Write(imagesPath, dims, hwc);
            Console.WriteLine(imagesPath);
            if (sample.Labels is { } labels)
            {
                IdxFormat.Write(labelsPath, [labels.Length], labels.Select(l => (byte)l).ToArray());
                Console.WriteLine(labelsPath);
            }
            else if (File.Exists(labelsPath))
            {
                // Left beside unlabelled images, an earlier subset's labels would be read as theirs.
                File.Delete(labelsPath);
                Console.Error.WriteLine($"removed {labelsPath}: the images written have no labels");
            }
            return ExitCodes.Ok;
        }));
        return command;
    }
}

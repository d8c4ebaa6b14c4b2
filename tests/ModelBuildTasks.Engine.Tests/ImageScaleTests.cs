using ModelBuildTasks.Compression;
using ModelBuildTasks.Container;
using ModelBuildTasks.Data;
using ModelBuildTasks.Graph;
using ModelBuildTasks.Runtime;

namespace ModelBuildTasks.Engine.Tests;

/// <summary>
/// The container's preprocessing is how an app's 8-bit image file becomes model input (<c>PredictImage</c>).
/// Validation data given as floats say nothing of the pixels they came from: the scale is read off their range.
/// </summary>
public class ImageScaleTests
{
    static CompressionInputs Load(TestPaths.TempFolder temp, float[] pixels, string? testData = null, string? preprocess = null)
    {
        var labels = Enumerable.Range(0, pixels.Length / 784).Select(i => (long)(i % 10)).ToArray();
        Fixtures.WriteNpz(temp.File("d.npz"), ("x", "<f4", [labels.Length, 1, 28, 28], Fixtures.Bytes(pixels)), ("y", "<i8", [labels.Length], Fixtures.Bytes(labels)));
        File.WriteAllBytes(temp.File("m.onnx"), OnnxExport.ToBytes(TestModels.Plain()));
        return CompressionInputs.Load(temp.File("m.onnx"), temp.File("d.npz"), testData, new CompressionSettings { Preprocess = preprocess });
    }

    static ContainerMetadata Meta(string preprocess) => new()
    {
        Inputs = [new TensorDescription("input", "float", ["N", "1", "28", "28"])],
        Outputs = [new TensorDescription("logits", "float", ["N", "10"])],
        Labels = Enumerable.Range(0, 10).Select(i => $"c{i}").ToArray(),
        Preprocess = preprocess,
    };

    [Fact]
    public void FloatsInZeroToOne_RecordOneOver255ForImageFiles_SoAnImageGivesTheFloatsItWasMeasuredOn()
    {
        using var temp = new TestPaths.TempFolder();
        var images = DatasetLoader.Load(TestPaths.FashionTest, limit: 16); // 8-bit pixels over 255
        var inputs = Load(temp, images.Pixels);
        Assert.Empty(inputs.Warnings);
        Assert.Equal(1f, inputs.Preprocess.Scale); // the floats themselves are fed as they are
        // The container keeps both: `preprocess` for data such as these (evaluate reads it), `image_preprocess` for image files.
        var metadata = inputs.Metadata(inputs.Model, new Dictionary<string, string>(), new AccuracyFigures(null, null, null), classifier: true);
        Assert.Equal(inputs.Preprocess.ToString(), metadata.Preprocess);
        Assert.Equal(inputs.ImagePreprocess.ToString(), metadata.ImagePreprocess);
        Assert.Equal(metadata.ImagePreprocess, ContainerMetadata.Parse(metadata.ToJson()).ImagePreprocess);
        using var model = CompressedModel.LoadOnnx(OnnxExport.ToBytes(TestModels.Plain()), metadata);
        var png = Png.Grey(images.Image(3).ToArray().Select(v => (byte)Math.Round(v * 255)).ToArray(), 28, 28);
        var fromFile = model.PreprocessImage(png);
        Assert.All(fromFile.Zip(images.Image(3).ToArray()), pair => Assert.Equal(pair.Second, pair.First, 5));
    }

    [Theory]
    [InlineData(1f, 1f)]     // floats in 0..1 taken as they are: an image file's pixels over 255
    [InlineData(255f, 2f)]   // pixel values doubled: an image file's pixels doubled
    public void AScaleGivenForFloatData_AppliesToImageFilesAfterTheirRange(float range, float scale)
    {
        // A given scale was taken to be an image file's: scale=1 on floats in 0..1 fed the app's images as 0..255 (14 of 20 right, not 19).
        using var temp = new TestPaths.TempFolder();
        var images = DatasetLoader.Load(TestPaths.FashionTest, limit: 16);
        var inputs = Load(temp, images.Pixels.Select(p => p * range).ToArray(), preprocess: $"scale={scale}");
        Assert.Empty(inputs.Warnings);
        Assert.Equal(scale, inputs.Preprocess.Scale);
        var metadata = inputs.Metadata(inputs.Model, new Dictionary<string, string>(), new AccuracyFigures(null, null, null), classifier: true);
        using var model = CompressedModel.LoadOnnx(OnnxExport.ToBytes(TestModels.Plain()), metadata);
        var png = Png.Grey(images.Image(3).ToArray().Select(v => (byte)Math.Round(v * 255)).ToArray(), 28, 28);
        var fromFile = model.PreprocessImage(png);
        Assert.All(fromFile.Zip(images.Image(3).ToArray()), pair => Assert.Equal(pair.Second * range * scale, pair.First, 3));
    }

    [Fact]
    public void FloatsInZeroTo255_RecordScaleOne()
    {
        using var temp = new TestPaths.TempFolder();
        var images = DatasetLoader.Load(TestPaths.FashionTest, limit: 16);
        var inputs = Load(temp, images.Pixels.Select(p => p * 255).ToArray());
        Assert.Empty(inputs.Warnings);
        Assert.Equal(1f, inputs.ImagePreprocess.Scale);
        // The same for data and images: nothing extra recorded, so a container of 8-bit data keeps its bytes.
        Assert.Null(inputs.Metadata(inputs.Model, new Dictionary<string, string>(), new AccuracyFigures(null, null, null), classifier: true).ImagePreprocess);
    }

    [Fact]
    public void NormalisedFloats_AreAWarning_NotAGuess()
    {
        using var temp = new TestPaths.TempFolder();
        var images = DatasetLoader.Load(TestPaths.FashionTest, limit: 16);
        var inputs = Load(temp, images.Pixels.Select(p => (p - 0.5f) / 0.5f).ToArray());
        var warning = Assert.Single(inputs.Warnings);
        Assert.Equal(ErrorCodes.ImageScaleUnknown, warning.Code);
        Assert.Contains("from -1 to 1", warning.Message);
    }

    [Fact]
    public void AnEightBitTestSet_BesideFloatValidationData_IsScaledAsImagesAre()
    {
        using var temp = new TestPaths.TempFolder();
        var images = DatasetLoader.Load(TestPaths.FashionTest, limit: 16);
        var inputs = Load(temp, images.Pixels, testData: TestPaths.FashionTest);
        Assert.True(inputs.Test!.Image(0).ToArray().Max() <= 1f); // not 0..255 under the validation data's scale of 1
        Assert.Equal(images.Image(0).ToArray(), inputs.Test.Image(0).ToArray());
    }

    [Fact]
    public void TheTrainingAddOn_ScalesEachTrainingSetByItsOwnKind_AsValidationsWasScaled()
    {
        // Validation's resolved scale went to the add-on for any training data: floats in 0..1 were divided by 255
        // again (92.90% -> 42.30% after one epoch), and 8-bit pixels beside float validation taken as they were (9.70%).
        using var temp = new TestPaths.TempFolder();
        using var other = new TestPaths.TempFolder();
        var images = DatasetLoader.Load(TestPaths.FashionTest, limit: 16);
        Assert.Null(Load(temp, images.Pixels).TrainingPreprocess.Scale); // floats in 0..1: 1/255 for 8-bit training data, 1 for floats
        Assert.Equal(1f, Load(other, images.Pixels.Select(p => p * 255).ToArray()).TrainingPreprocess.Scale); // pixel values: as they are, either kind
        File.WriteAllBytes(temp.File("m.onnx"), OnnxExport.ToBytes(TestModels.Plain()));
        var idx = CompressionInputs.Load(temp.File("m.onnx"), TestPaths.FashionTest, null, new CompressionSettings());
        Assert.Null(idx.TrainingPreprocess.Scale);
        Assert.Equal(0.5f, CompressionInputs.Load(temp.File("m.onnx"), TestPaths.FashionTest, null, new CompressionSettings { Preprocess = "scale=0.5" }).TrainingPreprocess.Scale);
    }

    [Fact]
    public void AModelWithoutNames_GetsValidationsClassFolders_SoTheAddOnTrainsInTheOrderValidationIsScored()
    {
        using var temp = new TestPaths.TempFolder();
        Fixtures.WriteClassFolders(temp.File("data"), [(1, "b-trouser"), (8, "a-bag")], perClass: 4);
        File.WriteAllBytes(temp.File("m.onnx"), OnnxExport.ToBytes(TestModels.Plain()));
        var inputs = CompressionInputs.Load(temp.File("m.onnx"), temp.File("data"), null, new CompressionSettings());
        Assert.Equal("a-bag,b-trouser", inputs.Model.Metadata["labels"]);
    }
}

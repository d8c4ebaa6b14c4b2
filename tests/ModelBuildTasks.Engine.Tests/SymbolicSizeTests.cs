using ModelBuildTasks.Compression;
using ModelBuildTasks.Data;
using ModelBuildTasks.Graph;
using ModelBuildTasks.Packaging;

namespace ModelBuildTasks.Engine.Tests;

/// <summary>Models exported with a dynamic image size (N x C x H x W with H and W symbolic) compress at the validation images' size; outputs declared [N, C] take the size inference finds.</summary>
public class SymbolicSizeTests
{
    static readonly string Validation = TestPaths.FashionValidation;
    static readonly CompressionSettings Settings = new() { Search = SearchKind.Fixed, Methods = ["iq"], Bits = 7, TargetAccuracy = 0, MaxValidationImages = 500 };

    static string Save(string folder, string name, Dim height, Dim width)
    {
        var model = TestModels.Plain();
        var input = model.Graph.Inputs[0];
        model.Graph.Inputs[0] = input with { Shape = new TensorShape([Dim.Named("N"), input.Shape![1], height, width]) };
        var path = Path.Combine(folder, name);
        ModelFile.Save(model, path);
        return path;
    }

    [Fact]
    public void ASymbolicHeightAndWidth_AreFixedToTheImages_WithAWarning_AndCompressAsTheFixedModel()
    {
        using var temp = new TestPaths.TempFolder();
        var (_, fixedReport) = Compressor.Run(Save(temp.Path, "fixed.onnx", 28, 28), Validation, null, Settings);

        var (container, report) = Compressor.Run(Save(temp.Path, "dynamic.onnx", Dim.Named("H"), Dim.Named("W")), Validation, null, Settings);

        var warning = Assert.Single(report.Warnings, w => w.Code == ErrorCodes.InputSizeFixed);
        Assert.Contains("[N,1,H,W]", warning.Message);
        Assert.Contains("1x28x28 images only", warning.Message);
        Assert.DoesNotContain(fixedReport.Warnings, w => w.Code == ErrorCodes.InputSizeFixed);
        // What the app gets: a model of that size, scoring as the model exported with it.
        Assert.Equal(["N", "1", "28", "28"], ContainerPackaging.Read(container).Metadata.Inputs[0].Shape);
        Assert.Equal(fixedReport.FinalAccuracy, report.FinalAccuracy);
        Assert.Equal(fixedReport.BaselineAccuracy, report.BaselineAccuracy);
    }

    [Fact]
    public void AKnownSizeBesideASymbolicOne_StaysAndMismatchesTheImages_AsACodedError()
    {
        using var temp = new TestPaths.TempFolder();
        var path = Save(temp.Path, "m.onnx", Dim.Named("H"), 27);

        var e = Assert.Throws<ModelBuildException>(() => Compressor.Run(path, Validation, null, Settings));

        Assert.Equal(ErrorCodes.InputShapeMismatch, e.Code);
    }

    // The plain model with its ten scores declared [N, C], as an export with a dynamic class axis writes them.
    static void SaveWithClassesUndeclared(string path)
    {
        var model = TestModels.Plain();
        model.Graph.Outputs[0] = model.Graph.Outputs[0] with { Shape = new TensorShape([Dim.Named("N"), Dim.Named("C")]) };
        ModelFile.Save(model, path);
    }

    [Fact]
    public void AnOutputDeclaredWithASymbolicClassCount_IsWrittenWithTheInferredOne_AndTheAppReadsItsTenScores()
    {
        // The app reads each image's outputs by the declared size: [N,C] gave it -1 classes (an overflow on every call).
        using var temp = new TestPaths.TempFolder();
        SaveWithClassesUndeclared(temp.File("m.onnx"));

        var (container, report) = Compressor.Run(temp.File("m.onnx"), Validation, null, Settings);

        Assert.Equal(["N", "10"], ContainerPackaging.Read(container).Metadata.Outputs[0].Shape);
        Assert.Equal("accuracy", report.Measure); // ten class scores, as the model computes
        using var app = ModelBuildTasks.Runtime.CompressedModel.Load(container);
        Assert.Equal(10, app.ClassCount);
        Assert.Equal(10, app.Logits(new float[app.InputSize]).Length);
    }

    [Fact]
    public void AnOutputDeclaredWithASymbolicClassCount_HasItsClassesCounted_AndItsLabelsChecked()
    {
        // The class count was read off the declared [N,C]: none, so labels beyond the classes went unchecked (and --check
        // let --labels of another count through that the run refused).
        using var temp = new TestPaths.TempFolder();
        SaveWithClassesUndeclared(temp.File("m.onnx"));
        var images = DatasetLoader.Load(TestPaths.FashionTest, limit: 20);
        Fixtures.WriteNpz(temp.File("d.npz"), ("x", "<f4", [20, 1, 28, 28], Fixtures.Bytes(images.Pixels)), ("y", "<i8", [20], Fixtures.Bytes(Enumerable.Range(0, 20).Select(i => (long)i).ToArray())));

        Assert.Equal(10, LabelRange.ClassCount(ModelFile.Load(temp.File("m.onnx"))));
        var e = Assert.Throws<ModelBuildException>(() => CompressionInputs.Load(temp.File("m.onnx"), temp.File("d.npz"), null, new CompressionSettings()));
        Assert.Equal(ErrorCodes.LabelOutOfRange, e.Code);
    }
}

using ModelBuildTasks.Container;
using ModelBuildTasks.Data;
using ModelBuildTasks.Packaging;
using ModelBuildTasks.Passes.Quantization;
using ModelBuildTasks.Runtime;

namespace ModelBuildTasks.Engine.Tests;

public class RuntimeTests
{
    static readonly byte[] Container = Build();
    static readonly ImageDataset Test = DatasetLoader.Load(TestPaths.FashionTest, limit: 64);

    static byte[] Build()
    {
        var (quantized, _) = QdqQuantizer.Quantize(TestModels.Residual(), DatasetLoader.Load(TestPaths.FashionTrain, limit: 64));
        return ContainerPackaging.Pack(quantized, new ContainerMetadata
        {
            Inputs = [new TensorDescription("input", "float", ["N", "1", "28", "28"])],
            Outputs = [new TensorDescription("logits", "float", ["N", "10"])],
            Labels = Enumerable.Range(0, 10).Select(i => $"c{i}").ToArray(),
        });
    }

    [Theory]
    [InlineData("std=0", null)]
    [InlineData("resize=100000x100000", null)]
    [InlineData("", "banana")]
    public void MetadataTheEngineNeverWrites_FailsAtLoad_NotAtTheFirstImage(string preprocess, string? outputKind)
    {
        // What a crafted or foreign container may say: an std of 0 made every pixel NaN and the caller was blamed.
        var (quantized, _) = QdqQuantizer.Quantize(TestModels.Residual(), DatasetLoader.Load(TestPaths.FashionTrain, limit: 64));
        var metadata = ContainerPackaging.Read(Container).Metadata;
        var bytes = ContainerPackaging.Pack(quantized, metadata with { Preprocess = preprocess, OutputKind = outputKind ?? metadata.OutputKind });
        var e = Assert.Throws<ContainerFormatException>(() => CompressedModel.Load(bytes));
        Assert.Contains(outputKind ?? preprocess, e.Message);
    }

    [Fact]
    public void AChainOfFractionsInThePreprocessing_IsRefused_WithoutExhaustingTheStack()
    {
        // Parsed by recursion, "1/1/.../1" in 40 KB of metadata overflowed a 1.5 MB thread stack (Windows' default for a
        // new thread) and killed the app; one fraction (as 1/255) is all the engine writes.
        var bytes = ContainerWithPreprocess("mean=" + string.Concat(Enumerable.Repeat("1/", 20_000)) + "1");
        Exception? thrown = null;
        var thread = new Thread(() => thrown = Record.Exception(() => CompressedModel.Load(bytes)), 1536 * 1024);
        thread.Start();
        thread.Join();
        Assert.IsType<ContainerFormatException>(thrown);
        Assert.IsType<ContainerFormatException>(Record.Exception(() => CompressedModel.Load(ContainerWithPreprocess("scale=1/2/4"))));
        using var one = CompressedModel.Load(ContainerWithPreprocess("scale=1/255"));
    }

    [Fact]
    public void AContainerFromBeforeOutputKind_LoadsAsAClassifier()
    {
        // output_kind came in after the first containers were written; those hold classifiers (docs/format.md).
        var parts = CraftedContainer.PartsOf(Container);
        var json = System.Text.Json.Nodes.JsonNode.Parse(parts.Metadata)!.AsObject();
        Assert.True(json.Remove("output_kind"));
        using var model = CompressedModel.Load(CraftedContainer.Build(parts with { Metadata = json.ToJsonString() }));
        Assert.True(model.Metadata.IsClassifier);
        Assert.Equal(ContainerMetadata.Classes, model.Metadata.OutputKind);
    }

    [Fact]
    public void ManyThreadsAtOnce_GetTheSameAnswersAsOne()
    {
        using var model = CompressedModel.Load(Container);
        var expected = model.Predict(Test.Pixels, Test.Count);
        var results = new Prediction[Test.Count];
        Parallel.For(0, Test.Count * 4, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            var k = i % Test.Count;
            results[k] = model.Predict(Test.Image(k));
        });
        Assert.Equal(expected.Select(p => p.ClassIndex), results.Select(p => p.ClassIndex));
        Assert.All(results, p => Assert.InRange(p.Score, 0f, 1f));
        Assert.Equal($"c{expected[0].ClassIndex}", expected[0].Label);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void ABatchSplitAcrossThreads_GivesEveryImageTheLogitsItGetsAlone(int threads)
    {
        using var split = CompressedModel.Load(Container, new CompressedModelOptions { IntraOpThreads = threads });
        using var whole = CompressedModel.Load(Container, new CompressedModelOptions { IntraOpThreads = threads, SplitBatches = false });
        const int count = 7; // parts of 3 and 4, or 2, 2 and 3
        var batch = Test.Pixels.AsSpan(0, count * Test.ImageSize);

        var logits = split.Run(batch, count);

        Assert.Equal(whole.Run(batch, count), logits);
        for (var i = 0; i < count; i++)
            Assert.Equal(split.Logits(Test.Image(i)), logits.AsSpan(i * split.ClassCount, split.ClassCount).ToArray());
    }

    [Fact]
    public void SingleImages_RunOnTheSessionMeasuredFaster_WithTheSameLogitsOnEither()
    {
        using var model = CompressedModel.Load(Container, new CompressedModelOptions { IntraOpThreads = 2 });
        using var whole = CompressedModel.Load(Container, new CompressedModelOptions { IntraOpThreads = 2, SplitBatches = false });
        Assert.Null(model.SingleImageThreads); // nothing timed yet
        Assert.Equal(2, whole.SingleImageThreads);

        // The first images alternate between the one-thread and the two-thread session: each gets the logits a
        // single session gives, whichever ran it.
        var runs = 2 * SingleImageChoiceTests.Runs;
        for (var i = 0; i < runs; i++)
            Assert.Equal(whole.Logits(Test.Image(i % Test.Count)), model.Logits(Test.Image(i % Test.Count)));

        Assert.Contains(model.SingleImageThreads, new int?[] { 1, 2 });
        Assert.Equal(whole.Logits(Test.Image(0)), model.Logits(Test.Image(0)));
    }

    [Fact]
    public void Metadata_Shapes_AndLogits_AreExposed()
    {
        using var model = CompressedModel.Load(new MemoryStream(Container));
        Assert.Equal(784, model.InputSize);
        Assert.Equal(10, model.ClassCount);
        Assert.Equal(-1, model.InputShape[0]);
        Assert.Equal(10, model.Labels.Count);
        var logits = model.Logits(Test.Image(0));
        Assert.Equal(10, logits.Length);
        Assert.Equal(Array.IndexOf(logits, logits.Max()), model.Predict(Test.Image(0)).ClassIndex);
    }

    [Fact]
    public void WrongSizes_MissingResources_AndDisposal_AreClearErrors()
    {
        var model = CompressedModel.Load(Container);
        Assert.Throws<ArgumentException>(() => model.Predict(new float[10]));
        Assert.Throws<FileNotFoundException>(() => CompressedModel.LoadFromResource(typeof(RuntimeTests).Assembly, "absent.cmodel"));
        Assert.Throws<ContainerFormatException>(() => CompressedModel.Load(new byte[200]));
        // A damaged resource names itself and its assembly: a byte offset alone does not say which of an app's models it is.
        var damaged = Assert.Throws<ContainerFormatException>(() => CompressedModel.LoadFromResource(typeof(RuntimeTests).Assembly, "damaged.cmodel"));
        Assert.StartsWith("embedded resource 'damaged.cmodel' of assembly ModelBuildTasks.Engine.Tests: ", damaged.Message);
        // So does one the uncompressed class loads as ONNX (here bytes ONNX Runtime cannot read as a model).
        var notOnnx = Assert.Throws<ContainerFormatException>(() => CompressedModel.LoadOnnxFromResource(typeof(RuntimeTests).Assembly, "damaged.cmodel", ContainerMetadata.Parse(ModelContainer.Read(Container).MetadataJson)));
        Assert.StartsWith("embedded resource 'damaged.cmodel' of assembly ModelBuildTasks.Engine.Tests: ", notOnnx.Message);
        model.Dispose();
        model.Dispose(); // idempotent
        Assert.Throws<ObjectDisposedException>(() => model.Predict(Test.Image(0)));
    }

    [Fact]
    public void DisposingWhileOtherThreadsPredict_LetsTheirCallsFinish_AndRefusesLaterOnes()
    {
        // Dispose used to free the native sessions under running calls: the process crashed (SIGSEGV).
        for (var round = 0; round < 5; round++)
        {
            var model = CompressedModel.Load(Container, new CompressedModelOptions { IntraOpThreads = 2 });
            var started = new CountdownEvent(4);
            var done = new int[4];
            // Threads of their own: busy thread-pool workers would starve the pool the batch calls split on.
            var workers = Enumerable.Range(0, 4).Select(w => new Thread(() =>
            {
                started.Signal();
                while (true)
                {
                    try
                    {
                        if (w % 2 == 0) model.Predict(Test.Image(done[w] % Test.Count));
                        else model.Predict(Test.Pixels.AsSpan(0, 8 * Test.ImageSize), 8);
                        done[w]++;
                    }
                    catch (ObjectDisposedException) { return; }
                }
            })).ToArray();
            foreach (var worker in workers) worker.Start();
            started.Wait();
            Thread.Sleep(50);
            model.Dispose();
            Assert.All(workers, w => Assert.True(w.Join(TimeSpan.FromMinutes(5))));
            Assert.All(done, d => Assert.True(d > 0));
        }
    }

    [Fact]
    public void NullsEmptyBatchesNonFiniteValuesAndBadOptions_AreClearErrors()
    {
        using var model = CompressedModel.Load(Container);
        Assert.Throws<ArgumentNullException>(() => CompressedModel.Load((Stream)null!));
        Assert.Throws<ArgumentNullException>(() => CompressedModel.Load((byte[])null!));
        Assert.Throws<ArgumentNullException>(() => CompressedModel.LoadFromResource(null!, "x.cmodel"));
        Assert.Equal("resourceName", Assert.ThrowsAny<ArgumentException>(() => CompressedModel.LoadFromResource(typeof(RuntimeTests).Assembly, null!)).ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => CompressedModel.Load(Container, new CompressedModelOptions { IntraOpThreads = -1 }));

        Assert.Empty(model.Predict(ReadOnlySpan<float>.Empty, 0));
        Assert.Empty(model.Run(ReadOnlySpan<float>.Empty, 0));
        Assert.Equal("image", Assert.Throws<ArgumentException>(() => model.Logits(new float[10])).ParamName);
        Assert.ThrowsAny<ArgumentException>(() => model.Predict(Test.Image(0), 268_435_457)); // count x 784 wraps to 784 in 32 bits: its outputs' size is refused first

        var image = Test.Image(3).ToArray();
        image[100] = float.NaN;
        Assert.Contains("value 100 of image 0 is NaN", Assert.Throws<ArgumentException>(() => model.Predict(image)).Message);
        var batch = Test.Pixels.AsSpan(0, 4 * Test.ImageSize).ToArray();
        batch[2 * Test.ImageSize + 5] = float.PositiveInfinity;
        Assert.Contains("value 5 of image 2", Assert.Throws<ArgumentException>(() => model.Predict(batch, 4)).Message);

        // The shape is the model's, not the caller's to change.
        Assert.Throws<InvalidCastException>(() => ((long[])model.InputShape)[1] = 3);
    }

    // ***** Issue 14, point 8: image files, top-k, probabilities, logits, execution-provider options

    static byte[] ContainerWithPreprocess(string preprocess)
    {
        var (quantized, _) = QdqQuantizer.Quantize(TestModels.Residual(), DatasetLoader.Load(TestPaths.FashionTrain, limit: 64));
        return ContainerPackaging.Pack(quantized, new ContainerMetadata
        {
            Inputs = [new TensorDescription("input", "float", ["N", "1", "28", "28"])],
            Outputs = [new TensorDescription("logits", "float", ["N", "10"])],
            Labels = Enumerable.Range(0, 10).Select(i => $"c{i}").ToArray(),
            Preprocess = preprocess,
        });
    }

    [Fact]
    public void AnImageFile_GetsTheEnginesPreprocessing_AndTheSamePrediction()
    {
        // 56x56 PNGs in an image-folder dataset: the engine resizes and normalises them for the
        // accuracy; the runtime must give the app the same floats from the same files.
        var spec = PreprocessSpec.Parse("resize=28x28;mean=0.3;std=0.35").Resolved(eightBit: true);
        var container = ContainerWithPreprocess(spec.ToString());
        using var folder = new TestPaths.TempFolder();
        Directory.CreateDirectory(Path.Combine(folder.Path, "any"));
        var files = new List<string>();
        for (var i = 0; i < 8; i++)
        {
            var pixels = new byte[56 * 56];
            for (var y = 0; y < 56; y++)
            for (var x = 0; x < 56; x++)
                pixels[y * 56 + x] = (byte)Math.Round(Test.Image(i)[y / 2 * 28 + x / 2] * 255);
            var file = Path.Combine(folder.Path, "any", $"{i}.png");
            File.WriteAllBytes(file, Png.Grey(pixels, 56, 56));
            files.Add(file);
        }
        var engine = DatasetLoader.Load(folder.Path, spec);
        using var model = CompressedModel.Load(container);
        for (var i = 0; i < files.Count; i++)
        {
            var input = model.PreprocessImage(files[i]);
            Assert.Equal(engine.Image(i).ToArray(), input);
            Assert.Equal(model.Predict(engine.Image(i)), model.PredictImage(files[i]));
            Assert.Equal(model.Predict(input), model.PredictImage(File.ReadAllBytes(files[i])));
        }
        // An RGB image goes to the model's one channel (luma), as the engine converts channels.
        var rgb = Png.Rgb(Enumerable.Range(0, 28 * 28 * 3).Select(v => (byte)(v % 251)).ToArray(), 28, 28);
        Assert.Equal(784, model.PreprocessImage(rgb).Length);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void AFolderOfGreyAndColourFiles_IsMeasuredOnTheFloatsEachFileGivesTheApp_InTheFirstFilesChannels(int channels)
    {
        // The first file by name decides grey or RGB for the set. A colour photo among grey ones was measured as stb's
        // integer grey, made before the resize, where the app's PredictImage takes luma in float after it; and a grey
        // file among colour ones is replicated after its resize, as the app does.
        using var folder = new TestPaths.TempFolder();
        Directory.CreateDirectory(folder.File("any"));
        var random = new Random(5);
        byte[] Pixels(int n) { var p = new byte[n]; random.NextBytes(p); return p; }
        byte[] Image(bool colour) => colour ? Png.Rgb(Pixels(40 * 40 * 3), 40, 40) : Png.Grey(Pixels(40 * 40), 40, 40);
        var firstColour = channels == 3;
        File.WriteAllBytes(folder.File("any/a.png"), Image(firstColour));
        File.WriteAllBytes(folder.File("any/b.png"), Image(!firstColour));
        File.WriteAllBytes(folder.File("any/c.png"), Image(firstColour));
        var spec = PreprocessSpec.Parse("resize=28x28;mean=0.4;std=0.3").Resolved(eightBit: true); // no channels=: the model's, by the first file
        var engine = DatasetLoader.Load(folder.Path, spec);
        using var model = CompressedModel.LoadOnnx(ModelBuildTasks.Graph.OnnxExport.ToBytes(TestModels.Plain(channels: channels)), new ContainerMetadata
        {
            Inputs = [new TensorDescription("input", "float", ["N", channels.ToString(), "28", "28"])],
            Outputs = [new TensorDescription("logits", "float", ["N", "10"])],
            Labels = Enumerable.Range(0, 10).Select(i => $"c{i}").ToArray(),
            Preprocess = spec.ToString(),
        });
        foreach (var (file, i) in new[] { "a", "b", "c" }.Select((f, i) => (folder.File($"any/{f}.png"), i)))
            Assert.Equal(model.PreprocessImage(file), engine.Image(i).ToArray(), (a, b) => Math.Abs(a - b) < 1e-5);
    }

    [Fact]
    public void Labels_AHugeCount_AndAnOverflowingModel_AreGuarded()
    {
        using var model = CompressedModel.LoadOnnx(ModelBuildTasks.Graph.OnnxExport.ToBytes(TestModels.Plain()), new ContainerMetadata
        {
            Inputs = [new TensorDescription("input", "float", ["N", "1", "28", "28"])],
            Outputs = [new TensorDescription("logits", "float", ["N", "10"])],
            Labels = Enumerable.Range(0, 10).Select(i => $"c{i}").ToList(),
        });
        // The labels Predict names classes by cannot be changed through a cast.
        Assert.Throws<NotSupportedException>(() => ((IList<string>)model.Labels)[0] = "changed");
        Assert.Equal("c0", model.Labels[0]);
        // A count whose outputs no array holds: an argument error before anything runs, not an overflow inside.
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => model.Run([], 300_000_000));
        Assert.Equal("count", error.ParamName);
        // Finite pixels far beyond any image overflow a float model: no NaN score in [0, 1].
        var huge = Enumerable.Repeat(3e38f, 784).ToArray();
        Assert.Throws<ArithmeticException>(() => model.Predict(huge));
        Assert.Throws<ArithmeticException>(() => model.Probabilities(huge));
        Assert.Equal(10, model.Logits(huge).Length); // the raw outputs stay available
    }

    [Fact]
    public void AModelWhoseOutputHasNoBatchAxis_IsRefusedAtLoad()
    {
        var model = TestModels.Plain();
        var input = model.Graph.Inputs[0];
        model.Graph.Inputs[0] = input with { Shape = new ModelBuildTasks.Graph.TensorShape(new[] { ModelBuildTasks.Graph.Dim.Of(1) }.Concat(input.Shape!.Dims.Skip(1))) };
        // The logits reshaped to [10], as an exporter that squeezes the batch of one writes them.
        var shape = model.Graph.AddInitializer(ModelBuildTasks.Graph.Tensor.FromInt64s("flat_shape", [1], [10]));
        model.Graph.Nodes.Add(new ModelBuildTasks.Graph.Node("squeeze", "Reshape", [model.Graph.Outputs[0].Name, shape], ["flat"]));
        model.Graph.Outputs[0] = new ModelBuildTasks.Graph.ValueInfo("flat", ModelBuildTasks.Graph.ElementType.Float, new ModelBuildTasks.Graph.TensorShape([ModelBuildTasks.Graph.Dim.Of(10)]));
        var error = Assert.Throws<ContainerFormatException>(() => CompressedModel.LoadOnnx(ModelBuildTasks.Graph.OnnxExport.ToBytes(model), new ContainerMetadata
        {
            Inputs = [new TensorDescription("input", "float", ["1", "1", "28", "28"])],
            Outputs = [new TensorDescription("logits", "float", ["10"])],
        }));
        Assert.Contains("has no batch axis first", error.Message);
    }

    [Theory]
    [InlineData(1)] // [N, C]: -1 classes, an overflow on every call
    [InlineData(2)] // [N, C, D]: -1 x -1 = 1 class, each image's outputs read from the first image's
    public void AModelWhoseOutputSizeIsUnknown_IsRefusedAtLoad_AsAContainerFault(int symbolic)
    {
        // The logits reshaped by a shape computed when the model runs (their own, or it and a trailing 1), which ONNX
        // Runtime cannot infer: it reports the declared [N, C] (or [N, C, D]) as unknown sizes.
        var model = TestModels.Plain();
        var logits = model.Graph.Outputs[0].Name;
        model.Graph.Nodes.Add(new ModelBuildTasks.Graph.Node("shape", "Shape", [logits], ["runtime_shape"]));
        var dims = new List<ModelBuildTasks.Graph.Dim> { ModelBuildTasks.Graph.Dim.Named("N"), ModelBuildTasks.Graph.Dim.Named("C") };
        var target = "runtime_shape";
        if (symbolic == 2)
        {
            var one = model.Graph.AddInitializer(ModelBuildTasks.Graph.Tensor.FromInt64s("one", [1], [1]));
            var append = new ModelBuildTasks.Graph.Node("append", "Concat", ["runtime_shape", one], ["runtime_shape_1"]);
            append.Attributes["axis"] = ModelBuildTasks.Graph.NodeAttribute.Of(0L);
            model.Graph.Nodes.Add(append);
            target = "runtime_shape_1";
            dims.Add(ModelBuildTasks.Graph.Dim.Named("D"));
        }
        model.Graph.Nodes.Add(new ModelBuildTasks.Graph.Node("reshape", "Reshape", [logits, target], ["scores"]));
        model.Graph.Outputs[0] = new ModelBuildTasks.Graph.ValueInfo("scores", ModelBuildTasks.Graph.ElementType.Float, new ModelBuildTasks.Graph.TensorShape(dims));

        var error = Assert.Throws<ContainerFormatException>(() => CompressedModel.LoadOnnx(ModelBuildTasks.Graph.OnnxExport.ToBytes(model), new ContainerMetadata
        {
            Inputs = [new TensorDescription("input", "float", ["N", "1", "28", "28"])],
            Outputs = [new TensorDescription(model.Graph.Outputs[0].Name, "float", [.. dims.Select(d => d.ToString())])],
        }));
        Assert.Contains("has dimensions of unknown or no size besides the batch", error.Message);
    }

    [Fact]
    public void AnImageBeyondTheModelsPixelLimit_IsRefusedBeforeDecoding()
    {
        var onnx = ModelBuildTasks.Graph.OnnxExport.ToBytes(TestModels.Plain());
        var metadata = new ContainerMetadata
        {
            Inputs = [new TensorDescription("input", "float", ["N", "1", "28", "28"])],
            Outputs = [new TensorDescription("logits", "float", ["N", "10"])],
        };
        var photo = Png.Grey(new byte[100 * 100], 100, 100);
        using var guarded = CompressedModel.LoadOnnx(onnx, metadata, new CompressedModelOptions { MaxImagePixels = 50 * 50 });
        Assert.Contains("beyond the limit of 2,500", Assert.Throws<InvalidDataException>(() => guarded.PreprocessImage(photo)).Message);
        using var plain = CompressedModel.LoadOnnx(onnx, metadata);
        Assert.Equal(784, plain.PreprocessImage(photo).Length); // resized to the model's 28x28
        Assert.Throws<ArgumentOutOfRangeException>(() => CompressedModel.LoadOnnx(onnx, metadata, new CompressedModelOptions { MaxImagePixels = 0 }));
    }

    [Fact]
    public void BadImages_AreClearErrorsNamingTheFile()
    {
        using var model = CompressedModel.Load(Container);
        using var folder = new TestPaths.TempFolder();
        var missing = Path.Combine(folder.Path, "missing.png");
        Assert.Contains("missing.png", Assert.Throws<FileNotFoundException>(() => model.PredictImage(missing)).Message);
        Assert.Equal($"{folder.Path} is a directory, not an image file", Assert.Throws<FileNotFoundException>(() => model.PredictImage(folder.Path)).Message);
        var junk = Path.Combine(folder.Path, "junk.png");
        File.WriteAllBytes(junk, new byte[100]);
        Assert.StartsWith(junk + ":", Assert.Throws<InvalidDataException>(() => model.PredictImage(junk)).Message);
        // A header claiming 100000 x 100000 pixels is refused before any allocation (by the decoder's
        // header check or ours, whichever comes first), as an error, not an out-of-memory crash.
        var bomb = Png.Grey(new byte[4], 2, 2, claimedSize: 100_000);
        Assert.StartsWith("the image:", Assert.Throws<InvalidDataException>(() => model.PredictImage(bomb)).Message);
        // The decoder zero-fills a BMP cut short and the model classified what was left: 28 of 28 rows
        // decode, 14 or a header claiming 8000 x 8000 (a gigabyte to decode) are refused.
        var pixels = Enumerable.Range(0, 28 * 28 * 3).Select(i => (byte)(i * 7)).ToArray();
        var bmp = Bmp.Rgb(pixels, 28, 28);
        model.PredictImage(bmp);
        Assert.Contains("cut short", Assert.Throws<InvalidDataException>(() => model.PredictImage(bmp[..(bmp.Length / 2)])).Message);
        var before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Contains("cut short", Assert.Throws<InvalidDataException>(() => model.PredictImage(Bmp.Rgb(pixels, 28, 28, claimedSize: 8000))).Message);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 16L << 20);
    }

    [Fact]
    public void ALargeBatch_RunsInRunsOf64_WithEachImagesOwnLogits()
    {
        // ONNX Runtime sizes its arena by the largest run and keeps it: one call with 10,000 images held 2 GB for
        // good, so a batch runs 64 images at a time. Its profile counts the runs (written when the session goes).
        using var folder = new TestPaths.TempFolder();
        var images = Enumerable.Range(0, 200).SelectMany(i => Test.Image(i % Test.Count).ToArray()).ToArray();
        var options = new CompressedModelOptions { ConfigureSession = o => { o.ProfileOutputPathPrefix = Path.Combine(folder.Path, "profile"); o.EnableProfiling = true; } };
        float[] logits;
        using (var model = CompressedModel.Load(Container, options))
            logits = model.Run(images, 200);
        var profile = File.ReadAllText(Assert.Single(Directory.GetFiles(folder.Path, "profile*.json")));
        Assert.Equal(4, System.Text.RegularExpressions.Regex.Count(profile, "\"name\"\\s*:\\s*\"model_run\"")); // 64 + 64 + 64 + 8
        using var plain = CompressedModel.Load(Container);
        foreach (var i in new[] { 0, 63, 64, 130, 199 })
            Assert.Equal(plain.Logits(Test.Image(i % Test.Count)), logits.AsSpan(i * plain.ClassCount, plain.ClassCount).ToArray());
    }

    [Fact]
    public void JpegTgaAndPsdFilesCutShort_AreErrors_NotImagesWithZerosForTheRest()
    {
        // The decoder reads zeros past the end of these, so a cut download decoded and was classified (the JPEG
        // fixture, Fashion-MNIST's first test image, cut to 300 of its 612 bytes: "T-shirt/top", not "Shirt"). PNG
        // decoding fails by itself; BMP is checked in BadImages_AreClearErrorsNamingTheFile, GIF and HDR in the next test.
        using var model = CompressedModel.Load(Container);
        var grey = Test.Image(0).ToArray().Select(v => (byte)Math.Round(v * 255)).ToArray();
        var files = new (string Format, byte[] File)[]
        {
            ("JPEG", File.ReadAllBytes(Path.Combine(TestPaths.RepoRoot, "tests/ModelBuildTasks.Engine.Tests/Fixtures/shirt.jpg"))),
            ("TGA", Tga(grey, runLength: false)),
            ("TGA", Tga(grey, runLength: true)),
            ("PSD", Psd.Encode([grey, grey, grey], 28, 28, mode: 3)),
        };
        foreach (var (format, file) in files)
        {
            Assert.Equal(784, model.PreprocessImage(file).Length);
            Assert.Equal(784, model.PreprocessImage([.. file, .. "trailing bytes"u8]).Length);
            var e = Assert.Throws<InvalidDataException>(() => model.PredictImage(file[..(file.Length / 2)]));
            Assert.StartsWith($"the image: the {format} file is cut short", e.Message);
        }
        // A JPEG that only lacks its end-of-image marker is refused too: from the bytes alone it cannot be told
        // from one cut at the end of its image data, and the message says how to mend either.
        var jpeg = files[0].File;
        Assert.Contains("re-save it", Assert.Throws<InvalidDataException>(() => model.PredictImage(jpeg[..^2])).Message);
    }

    // A 28x28 grey TGA (top row first), raw or run-length encoded in packets of 28 literal pixels.
    static byte[] Tga(byte[] grey, bool runLength)
    {
        byte[] header = [0, 0, (byte)(runLength ? 11 : 3), 0, 0, 0, 0, 0, 0, 0, 0, 0, 28, 0, 28, 0, 8, 0x20];
        return runLength ? [.. header, .. grey.Chunk(28).SelectMany(row => (byte[])[27, .. row])] : [.. header, .. grey];
    }

    [Fact]
    public void GifAndHdrFilesCutShort_AreErrors_NotImagesWithZerosForTheRest()
    {
        // The decoder reads zeros past a file's end here too: a GIF's image data then ends (a block of length 0) and
        // the rest of the image stays background, and a flat HDR reads black pixels. Each file is cut in half and
        // just before its last byte (a GIF's trailer, after its image, is the one byte that may go).
        using var model = CompressedModel.Load(Container);
        var grey = Test.Image(0).ToArray().Select(v => (byte)Math.Round(v * 255)).ToArray();
        var light = grey.Select(v => (v + 1) / 256f).ToArray(); // HDR stores values above 0
        var files = new (string Format, byte[] File, int Intact)[]
        {
            ("GIF", Gif.Grey(grey, 28, 28), 1),
            ("HDR", Hdr.Grey(light, 28, 28, runLength: false), 0),
            ("HDR", Hdr.Grey(light, 28, 28, runLength: true), 0),
        };
        foreach (var (format, file, intact) in files)
        {
            Assert.Equal(784, model.PreprocessImage(file).Length);
            if (format == "GIF") // lossless; decoded as RGB, whose luma is the grey value up to float rounding
                Assert.Equal(model.PreprocessImage(Png.Grey(grey, 28, 28)), model.PreprocessImage(file), (a, b) => Math.Abs(a - b) < 1e-6);
            foreach (var cut in new[] { file[..(file.Length / 2)], file[..^(intact + 1)] })
            {
                var e = Assert.Throws<InvalidDataException>(() => model.PredictImage(cut));
                Assert.StartsWith($"the image: the {format} file is cut short", e.Message);
            }
        }
        // A run-length encoded HDR cut between two rows: the decoder took the zeros after it for flat pixels.
        var rle = files[2].File;
        var rowBytes = 4 + 4 * (1 + 28);
        var e2 = Assert.Throws<InvalidDataException>(() => model.PredictImage(rle[..(rle.Length - 10 * rowBytes)]));
        Assert.StartsWith("the image: the HDR file is cut short", e2.Message);
    }

    static byte[] RgbContainer() => ContainerPackaging.Pack(TestModels.Plain(channels: 3), new ContainerMetadata
    {
        Inputs = [new TensorDescription("input", "float", ["N", "3", "28", "28"])],
        Outputs = [new TensorDescription("logits", "float", ["N", "10"])],
        Labels = Enumerable.Range(0, 10).Select(i => $"c{i}").ToArray(),
    });

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AGreyPsd_IsReadLikeAGreyPng(bool packBits)
    {
        // A grey PSD was "not an image of a known format": the decoder reads RGB PSDs only. It now gives what the same
        // pixels give in a grey PNG: the grey values for a grey model, the grey value in all three channels for an RGB one.
        var grey = Test.Image(5).ToArray().Select(v => (byte)Math.Round(v * 255)).ToArray();
        var png = Png.Grey(grey, 28, 28);
        var psd = Psd.Encode([grey], 28, 28, mode: 1, packBits);
        var opaque = Psd.Encode([grey, Enumerable.Repeat((byte)255, 784).ToArray()], 28, 28, mode: 1, packBits); // an alpha channel
        using var model = CompressedModel.Load(Container);
        Assert.Equal(grey.Select(v => v / 255f), model.PreprocessImage(psd), (a, b) => Math.Abs(a - b) < 1e-6);
        Assert.Equal(model.PreprocessImage(png), model.PreprocessImage(psd));
        Assert.Equal(model.PreprocessImage(png), model.PreprocessImage(opaque));
        Assert.Equal(model.PredictImage(png), model.PredictImage(psd));

        using var rgb = CompressedModel.Load(RgbContainer());
        var input = rgb.PreprocessImage(psd);
        Assert.Equal(rgb.PreprocessImage(png), input);
        for (var c = 0; c < 3; c++) Assert.Equal(model.PreprocessImage(png), input[(c * 784)..((c + 1) * 784)]);

        // Cut short, it is refused like any PSD.
        Assert.StartsWith("the image: the PSD file is cut short", Assert.Throws<InvalidDataException>(() => model.PredictImage(psd[..^100])).Message);
    }

    [Fact]
    public void TopK_Probabilities_AndLogits_AgreeWithEachOther()
    {
        using var model = CompressedModel.Load(Container);
        var image = Test.Image(3).ToArray();
        var logits = model.Logits(image);
        var probabilities = model.Probabilities(image);
        Assert.Equal(1.0, probabilities.Sum(), 4);
        var top = model.TopK(image, 3);
        Assert.Equal(3, top.Length);
        Assert.Equal(model.Predict(image), top[0]);
        Assert.True(top[0].Score >= top[1].Score && top[1].Score >= top[2].Score);
        foreach (var p in top)
        {
            Assert.Equal(logits[p.ClassIndex], p.Logit);
            Assert.Equal(probabilities[p.ClassIndex], p.Score);
            Assert.Equal($"c{p.ClassIndex}", p.Label);
        }
        Assert.Equal(Enumerable.Range(0, 10).OrderByDescending(i => logits[i]).Take(3), top.Select(p => p.ClassIndex));
        Assert.Equal(10, model.TopK(image, 50).Length); // no more than the classes
        Assert.Throws<ArgumentOutOfRangeException>(() => model.TopK(image, 0));
    }

    [Fact]
    public void ConfigureSession_ReachesOnnxRuntime_AfterTheDefaults()
    {
        using var folder = new TestPaths.TempFolder();
        var optimized = Path.Combine(folder.Path, "optimized.onnx");
        var threads = -1;
        var options = new CompressedModelOptions
        {
            IntraOpThreads = 1,
            ConfigureSession = o =>
            {
                threads = o.IntraOpNumThreads;
                o.AppendExecutionProvider_CPU(0);
                // ONNX Runtime writes this file when it creates the session: proof that the options were used.
                o.OptimizedModelFilePath = optimized;
            },
        };
        using var model = CompressedModel.Load(Container, options);
        Assert.Equal(1, threads);
        Assert.True(File.Exists(optimized), "the session was not created with the configured options");
        using var plain = CompressedModel.Load(Container);
        Assert.Equal(plain.Logits(Test.Image(0)), model.Logits(Test.Image(0)));
    }

    [Fact]
    public void ASessionSettingOnnxRuntimeRefuses_IsBlamedOnTheSetting_NotOnTheContainer()
    {
        using var folder = new TestPaths.TempFolder();
        var options = new CompressedModelOptions { ConfigureSession = o => o.OptimizedModelFilePath = Path.Combine(folder.Path, "missing/folder/x.onnx") };
        var e = Assert.Throws<InvalidOperationException>(() => CompressedModel.Load(Container, options));
        Assert.Contains("ConfigureSession", e.Message);
        Assert.Contains("the container itself loads", e.Message);
        // An execution provider this package does not have fails inside ConfigureSession itself.
        var cuda = Assert.Throws<InvalidOperationException>(() => CompressedModel.Load(Container, new CompressedModelOptions { ConfigureSession = o => o.AppendExecutionProvider_CUDA() }));
        Assert.Contains("ConfigureSession", cuda.Message);
        // A damaged container stays a container error, whatever the options.
        var damaged = (byte[])Container.Clone();
        Array.Clear(damaged, damaged.Length / 2, 64);
        Assert.Throws<ContainerFormatException>(() => CompressedModel.Load(damaged, options));
    }
}

using ModelBuildTasks.Data;

namespace ModelBuildTasks.Engine.Tests;

public class DatasetTests
{
    [Fact]
    public void NumberedClassFolders_WithAClassMissing_KeepTheirNumbers_WhenTheModelHasNoNames()
    {
        // Folders 0, 2, 3 (no image of class 1 in this set): by position they were 0, 1, 2, shifting two classes.
        var data = new ImageDataset(new float[4], 4, 1, 1, 1, [0, 1, 2, 2], ["0", "2", "3"]);
        var aligned = LabelNames.Align(data, null, classCount: 10);
        Assert.Equal([0, 2, 3, 3], aligned.Labels);
        Assert.Equal(10, aligned.ClassNames!.Count);
        // Numbers that are not below the class count (1 to 10 for ten classes), or not plain numbers, stay positions.
        Assert.Same(data, LabelNames.Align(data, null, classCount: 3));
        var oneBased = new ImageDataset(new float[2], 2, 1, 1, 1, [0, 1], ["1", "10"]);
        Assert.Same(oneBased, LabelNames.Align(oneBased, null, classCount: 10));
        var padded = new ImageDataset(new float[2], 2, 1, 1, 1, [0, 1], ["00", "02"]);
        Assert.Same(padded, LabelNames.Align(padded, null, classCount: 10));
        var ordered = new ImageDataset(new float[2], 2, 1, 1, 1, [0, 1], ["0", "1"]);
        Assert.Same(ordered, LabelNames.Align(ordered, null, classCount: 10)); // already their numbers
        Assert.Same(data, LabelNames.Align(data, null)); // class count unknown
    }

    [Fact]
    public void NumberedClassFolders_AgainstAModelWithNames_AreItsClassIndices_NotPositions()
    {
        // Folders 0, 2, 3 against a model that names its classes: by position they were its classes 0, 1, 2.
        var names = Enumerable.Range(0, 10).Select(i => "class " + (char)('a' + i)).ToArray();
        var data = new ImageDataset(new float[4], 4, 1, 1, 1, [0, 1, 2, 2], ["0", "2", "3"]);
        var aligned = LabelNames.Align(data, names, classCount: 10);
        Assert.Equal([0, 2, 3, 3], aligned.Labels);
        Assert.Equal(names, aligned.ClassNames);
        // They are the model's classes: no warning that the names differ.
        Assert.Null(LabelNames.Mismatch(names, aligned.ClassNames, "fix"));
        // A number past the model's classes is not an index: positions, and the warning.
        var beyond = new ImageDataset(new float[2], 2, 1, 1, 1, [0, 1], ["0", "10"]);
        Assert.Same(beyond, LabelNames.Align(beyond, names, classCount: 10));
    }

    [Fact]
    public void Align_RenumbersAFoldersClassesToTheModelsOrder_OnlyWhenTheyAreTheSameNames()
    {
        // Folders a, b, c are classes 0, 1, 2; the model's outputs are c, a, b.
        var data = new ImageDataset(new float[4], 4, 1, 1, 1, [0, 1, 2, 2], ["a", "b", "c"]);
        var aligned = LabelNames.Align(data, ["C", "a", "b"]);
        Assert.Equal([1, 2, 0, 0], aligned.Labels);
        Assert.Equal(["C", "a", "b"], aligned.ClassNames);
        // Preprocessed as they are read, the raw images' labels are renumbered too.
        var lazy = LabelNames.Align(Preprocessing.OnRead(data, PreprocessSpec.Parse("scale=1")), ["c", "a", "b"]);
        Assert.True(lazy.IsPreprocessedOnRead);
        Assert.Equal([1, 2, 0, 0], lazy.Labels);

        Assert.Same(data, LabelNames.Align(data, ["a", "b", "c"])); // already in order
        Assert.Same(data, LabelNames.Align(data, ["a", "b", "d"])); // other classes: the mismatch warning's case
        Assert.Same(data, LabelNames.Align(data, ["a", "b"]));
        Assert.Same(data, LabelNames.Align(data, null));
    }

    [Fact]
    public void Align_FindsAFewOfTheModelsClasses_ByNamesAFolderCanHave()
    {
        // Two folders of a ten-class model: "Trouser" is its class 1, and "T-shirt/top" (no folder can
        // have that name) its class 0.
        string[] fashion = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];
        var data = new ImageDataset(new float[3], 3, 1, 1, 1, [0, 1, 1], ["T-shirt_top", "trouser"]);
        var aligned = LabelNames.Align(data, fashion);
        Assert.Equal([0, 1, 1], aligned.Labels);
        Assert.Equal(fashion, aligned.ClassNames);
        var ankle = LabelNames.Align(new ImageDataset(new float[1], 1, 1, 1, 1, [0], ["ankle_boot"]), fashion);
        Assert.Equal([9], ankle.Labels);

        // A name the model lacks, or two folders for one class: left as they are (and warned about).
        var unknown = new ImageDataset(new float[1], 1, 1, 1, 1, [0], ["Trouser", "Hat"]);
        Assert.Same(unknown, LabelNames.Align(unknown, fashion));
        var twice = new ImageDataset(new float[1], 1, 1, 1, 1, [0], ["Trouser", "TROUSER"]);
        Assert.Same(twice, LabelNames.Align(twice, fashion));
        // A decomposed accent (as macOS names folders) finds the composed one.
        var cafe = LabelNames.Align(new ImageDataset(new float[1], 1, 1, 1, 1, [0], ["Cafe\u0301"]), ["Tea", "Caf\u00e9"]);
        Assert.Equal([1], cafe.Labels);
        // Model names that only differ in punctuation cannot be told apart by a folder's name.
        var ambiguous = new ImageDataset(new float[1], 1, 1, 1, 1, [0], ["ab"]);
        Assert.Same(ambiguous, LabelNames.Align(ambiguous, ["a-b", "ab"]));
    }

    [Fact]
    public void CommittedFashionMnistSubset_LoadsWithLabels()
    {
        var train = DatasetLoader.Load(TestPaths.FashionTrain);
        var test = DatasetLoader.Load(TestPaths.FashionTest);
        Assert.Equal((4000, 1, 28, 28), (train.Count, train.Channels, train.Height, train.Width));
        Assert.Equal(2000, test.Count);
        Assert.Equal(Enumerable.Range(0, 10), train.Labels!.Distinct().Order());
        Assert.InRange(train.Pixels.Max(), 0.99f, 1f); // 8-bit pixels scaled to [0, 1] by default
        Assert.Equal(0f, train.Pixels.Min());
    }

    [Theory]
    [InlineData("data-images-idx3-ubyte")]
    [InlineData("data-images-idx3-ubyte.gz")]
    public void Idx_WriteThenRead_RoundTrips(string name)
    {
        using var temp = new TestPaths.TempFolder();
        var pixels = Enumerable.Range(0, 3 * 4 * 5).Select(i => (byte)(i * 3)).ToArray();
        IdxFormat.Write(temp.File(name), [3, 4, 5], pixels);
        IdxFormat.Write(temp.File(DatasetFiles.LabelsFileName(name)), [3], [2, 0, 1]);

        var data = DatasetLoader.LoadRaw(temp.File(name));
        Assert.Equal(pixels.Select(p => (float)p), data.Pixels);
        Assert.Equal([2, 0, 1], data.Labels);
    }

    [Fact]
    public void Idx_WithoutLabelsFile_IsUnlabeled()
    {
        using var temp = new TestPaths.TempFolder();
        IdxFormat.Write(temp.File("x-images-idx3-ubyte"), [2, 2, 2], new byte[8]);
        Assert.False(DatasetLoader.LoadRaw(temp.File("x-images-idx3-ubyte")).HasLabels);
    }

    [Fact]
    public void Idx_LabelCountMismatch_IsAnError()
    {
        using var temp = new TestPaths.TempFolder();
        IdxFormat.Write(temp.File("x-images-idx3-ubyte"), [3, 2, 2], new byte[12]);
        IdxFormat.Write(temp.File("x-labels-idx1-ubyte"), [2], [0, 1]);
        var error = Assert.Throws<ModelBuildException>(() => DatasetLoader.LoadRaw(temp.File("x-images-idx3-ubyte")));
        Assert.Equal(ErrorCodes.LabelCountMismatch, error.Code);
        Assert.Contains("3 images", error.Message);
    }

    [Fact]
    public void Idx_TruncatedOrGarbage_IsAnError()
    {
        using var temp = new TestPaths.TempFolder();
        IdxFormat.Write(temp.File("x-images-idx3-ubyte"), [3, 2, 2], new byte[12]);
        var bytes = File.ReadAllBytes(temp.File("x-images-idx3-ubyte"));
        File.WriteAllBytes(temp.File("x-images-idx3-ubyte"), bytes[..^5]);
        Assert.Equal(ErrorCodes.InvalidDataset, Assert.Throws<ModelBuildException>(() => DatasetLoader.LoadRaw(temp.File("x-images-idx3-ubyte"))).Code);
        File.WriteAllText(temp.File("notes.txt"), "hello");
        Assert.Equal(ErrorCodes.InvalidDataset, Assert.Throws<ModelBuildException>(() => DatasetLoader.LoadRaw(temp.File("notes.txt"))).Code);
        Assert.Equal(ErrorCodes.DatasetNotFound, Assert.Throws<ModelBuildException>(() => DatasetLoader.LoadRaw(temp.File("absent.gz"))).Code);
    }

    [Fact]
    public void Npz_ChannelsLastUInt8_BecomesChannelsFirst()
    {
        using var temp = new TestPaths.TempFolder();
        // Two 2x2 RGB images; pixel value = 100*image + 10*position + channel.
        var hwc = new byte[2 * 2 * 2 * 3];
        for (var n = 0; n < 2; n++) for (var p = 0; p < 4; p++) for (var c = 0; c < 3; c++) hwc[n * 12 + p * 3 + c] = (byte)(100 * n + 10 * p + c);
        Fixtures.WriteNpz(temp.File("d.npz"), ("x", "|u1", [2, 2, 2, 3], hwc), ("y", "<i8", [2], Fixtures.Bytes([1L, 0L])));

        var data = DatasetLoader.LoadRaw(temp.File("d.npz"));
        Assert.Equal((2, 3, 2, 2), (data.Count, data.Channels, data.Height, data.Width));
        Assert.True(data.EightBit);
        Assert.Equal([1, 0], data.Labels);
        Assert.Equal([100f, 110f, 120f, 130f, 101f, 111f, 121f, 131f], data.Image(1)[..8].ToArray()); // channel planes
    }

    [Fact]
    public void Npz_Float32_IsNotRescaled_AndLabelMismatchIsAnError()
    {
        using var temp = new TestPaths.TempFolder();
        var values = new float[] { 0.25f, -1f, 2f, 0.5f };
        Fixtures.WriteNpz(temp.File("d.npz"), ("x", "<f4", [1, 2, 2], Fixtures.Bytes(values)), ("y", "<i8", [1], Fixtures.Bytes([3L])));
        Assert.Equal(values, DatasetLoader.Load(temp.File("d.npz")).Pixels);

        Fixtures.WriteNpz(temp.File("bad.npz"), ("x", "<f4", [1, 2, 2], Fixtures.Bytes(values)), ("y", "<i8", [2], Fixtures.Bytes([3L, 4L])));
        Assert.Equal(ErrorCodes.LabelCountMismatch, Assert.Throws<ModelBuildException>(() => DatasetLoader.Load(temp.File("bad.npz"))).Code);
    }

    [Fact]
    public void ImageFolder_ClassesFromSubfolders_PngDecoded()
    {
        using var temp = new TestPaths.TempFolder();
        foreach (var (cls, value) in new[] { ("cat", (byte)10), ("dog", (byte)200) })
        {
            Directory.CreateDirectory(temp.File(cls));
            for (var i = 0; i < 2; i++) Fixtures.WritePng(temp.File($"{cls}/{i}.png"), 4, 3, 3, Enumerable.Repeat(value, 36).ToArray());
        }
        var data = DatasetLoader.LoadRaw(temp.Path);
        Assert.Equal(["cat", "dog"], data.ClassNames);
        Assert.Equal([0, 0, 1, 1], data.Labels);
        Assert.Equal((3, 3, 4), (data.Channels, data.Height, data.Width));
        Assert.All(data.Image(3).ToArray(), v => Assert.Equal(200f, v));
    }

    [Fact]
    public void ImageFolder_ReadsEveryFormatPredictImageReads_NotOnlyPngJpegAndBmp()
    {
        // A folder of the images an app will classify must be measured: GIF, PSD and TGA files were skipped,
        // and a folder of nothing else was "no images".
        using var temp = new TestPaths.TempFolder();
        Directory.CreateDirectory(temp.File("dark"));
        Directory.CreateDirectory(temp.File("light"));
        File.WriteAllBytes(temp.File("dark/a.gif"), Gif.Grey(Enumerable.Repeat((byte)10, 6).ToArray(), 3, 2));
        File.WriteAllBytes(temp.File("light/b.psd"), Psd.Encode([Enumerable.Repeat((byte)200, 6).ToArray()], 3, 2, mode: 1));
        // An uncompressed grey TGA: 18-byte header (image type 3, 8 bits, top-left origin), then the pixels.
        byte[] tga = [0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 2, 0, 8, 0x20, .. Enumerable.Repeat((byte)200, 6)];
        File.WriteAllBytes(temp.File("light/c.tga"), tga);
        File.WriteAllText(temp.File("light/notes.txt"), "not an image");

        var data = DatasetLoader.LoadRaw(temp.Path);
        Assert.Equal(["dark", "light"], data.ClassNames);
        Assert.Equal([0, 1, 1], data.Labels);
        Assert.Equal((2, 3), (data.Height, data.Width));
        Assert.All(data.Image(0).ToArray(), v => Assert.Equal(10f, v));
        Assert.All(data.Image(1).ToArray(), v => Assert.Equal(200f, v));
        Assert.All(data.Image(2).ToArray(), v => Assert.Equal(200f, v));
    }

    [Fact]
    public void ImageFolder_WithChannelsAsked_ConvertsEachFileOnItsOwn_SoAColourFileAfterAGreyOneKeepsItsColours()
    {
        // The app converts each image it is given to the model's channels: a colour photo reaches a 3-channel model in colour
        // even when the folder's first file is grey. The set was read as grey (the first file's) and the photo measured as its luma.
        using var temp = new TestPaths.TempFolder();
        Directory.CreateDirectory(temp.File("a"));
        Fixtures.WritePng(temp.File("a/1.png"), 2, 2, 1, [10, 20, 30, 40]);
        Fixtures.WritePng(temp.File("a/2.png"), 2, 2, 3, [200, 0, 0, 200, 0, 0, 200, 0, 0, 200, 0, 0]);

        var data = DatasetLoader.Load(temp.Path, PreprocessSpec.Parse("channels=3;scale=1"));
        Assert.Equal(3, data.Channels);
        Assert.Equal([10f, 20, 30, 40, 10, 20, 30, 40, 10, 20, 30, 40], data.Image(0).ToArray());
        Assert.Equal([200f, 200, 200, 200, 0, 0, 0, 0, 0, 0, 0, 0], data.Image(1).ToArray());

        // Without channels= the first file still decides, and a grey model's folder with a colour file in it stays grey.
        var grey = DatasetLoader.Load(temp.Path, PreprocessSpec.Parse("scale=1"));
        Assert.Equal(1, grey.Channels);
        Assert.All(grey.Image(1).ToArray(), v => Assert.Equal(0.299f * 200, v, 3));
    }

    [Fact]
    public void ImageFolder_MixedSizes_NeedAResize()
    {
        using var temp = new TestPaths.TempFolder();
        Directory.CreateDirectory(temp.File("a"));
        Fixtures.WritePng(temp.File("a/1.png"), 4, 4, 1, new byte[16]);
        Fixtures.WritePng(temp.File("a/2.png"), 8, 8, 1, Enumerable.Repeat((byte)255, 64).ToArray());
        var error = Assert.Throws<ModelBuildException>(() => DatasetLoader.Load(temp.Path));
        Assert.Contains("resize", error.Message);

        var resized = DatasetLoader.Load(temp.Path, PreprocessSpec.Parse("resize=4x4"));
        Assert.Equal(4, resized.Width);
        Assert.All(resized.Image(1).ToArray(), v => Assert.Equal(1f, v, 5));
    }

    [Fact]
    public void Preprocessing_ScalesNormalisesAndConvertsChannels()
    {
        var raw = new ImageDataset([0f, 255f, 51f, 102f], 1, 1, 2, 2, [0], eightBit: true);
        var spec = PreprocessSpec.Parse("channels=3; scale=1/255; mean=0.5,0.5,0; std=0.5,0.5,1");
        var result = Preprocessing.Apply(raw, spec);
        Assert.Equal(3, result.Channels);
        Assert.Equal([-1f, 1f, -0.6f, -0.2f], result.Image(0)[..4].ToArray().Select(v => MathF.Round(v, 4)));
        Assert.Equal([0f, 1f, 0.2f, 0.4f], result.Image(0)[8..].ToArray().Select(v => MathF.Round(v, 4)));
        Assert.Equal(spec.ToString(), PreprocessSpec.Parse(spec.ToString()).ToString());
    }

    [Fact]
    public void PreprocessedAsRead_GivesTheSameImagesAsPreprocessedAtOnce_WithoutHoldingThem()
    {
        var raw = DatasetLoader.LoadRaw(TestPaths.FashionTest);
        var spec = PreprocessSpec.Parse("resize=56x40;channels=3;mean=0.4;std=0.3");
        var held = Preprocessing.Apply(raw, spec);
        var onRead = Preprocessing.OnRead(raw, spec);

        Assert.True(onRead.IsPreprocessedOnRead);
        Assert.Throws<InvalidOperationException>(() => onRead.Pixels);
        Assert.Equal((held.Count, held.ImageShape, held.Labels), (onRead.Count, onRead.ImageShape, onRead.Labels));
        var copied = new float[5 * held.ImageSize];
        onRead.CopyImages(1995, 5, copied);
        Assert.Equal(held.Pixels[(1995 * held.ImageSize)..], copied);
        Assert.Equal(held.Image(7).ToArray(), onRead.Image(7).ToArray());
        var subset = onRead.Subset([3, 1000]);
        Assert.True(subset.IsPreprocessedOnRead);
        Assert.Equal(held.Subset([3, 1000]).Pixels, subset.Image(0).ToArray().Concat(subset.Image(1).ToArray()));
        Assert.Equal(held.Labels![1000], subset.Labels![1]);

        // Prepare holds what is small and preprocesses as read what is large (2,000 images at 224x224x3: 1.2 GB).
        Assert.False(Preprocessing.Prepare(raw, spec).IsPreprocessedOnRead);
        Assert.True(Preprocessing.Prepare(raw, PreprocessSpec.Parse("resize=224x224;channels=3")).IsPreprocessedOnRead);
        Assert.Equal(ErrorCodes.InvalidPreprocessing, Assert.Throws<ModelBuildException>(() => Preprocessing.OnRead(raw, PreprocessSpec.Parse("mean=1,2"))).Code);
    }

    [Theory]
    [InlineData("resize=abc")]
    [InlineData("scale=x")]
    [InlineData("colour=red")]
    [InlineData("std=0")]
    [InlineData("channels=2")]
    public void Preprocessing_BadSpecs_AreErrors(string text) =>
        Assert.Equal(ErrorCodes.InvalidPreprocessing, Assert.Throws<ModelBuildException>(() => PreprocessSpec.Parse(text)).Code);

    [Fact]
    public void Splits_AreDeterministicDisjointAndComplete()
    {
        var data = new ImageDataset(Enumerable.Range(0, 100).Select(i => (float)i).ToArray(), 100, 1, 1, 1, Enumerable.Range(0, 100).ToArray());
        var a = DatasetSplit.Split(data, 42, 0.7, 0.3);
        var b = DatasetSplit.Split(data, 42, 0.7, 0.3);
        var c = DatasetSplit.Split(data, 43, 0.7, 0.3);
        Assert.Equal(70, a[0].Count);
        Assert.Equal(a[0].Labels, b[0].Labels);
        Assert.NotEqual(a[0].Labels, c[0].Labels);
        Assert.Empty(a[0].Labels!.Intersect(a[1].Labels!));
        Assert.Equal(Enumerable.Range(0, 100), a[0].Labels!.Concat(a[1].Labels!).Order());
        // The permutation is our own generator: its first entries are fixed forever.
        Assert.Equal([91, 99, 1], DatasetSplit.Permutation(100, 42)[..3]); // computed independently with a Python SplitMix64
    }
}

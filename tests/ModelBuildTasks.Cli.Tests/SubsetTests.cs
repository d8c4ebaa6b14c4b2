using ModelBuildTasks.Data;

namespace ModelBuildTasks.Cli.Tests;

public class SubsetTests
{
    [Fact]
    public void Subset_WritesTheSeededSampleWithItsLabels_TheSameForTheSameSeed()
    {
        using var temp = new TestPaths.TempFolder();
        var first = CliRunner.Run("subset", TestPaths.FashionTest, "--count", "50", "--seed", "3", "-o", temp.File("a-images-idx3-ubyte.gz"));
        Assert.Equal(0, first.ExitCode);
        Assert.Contains(temp.File("a-labels-idx1-ubyte.gz"), first.Stdout);
        CliRunner.Run("subset", TestPaths.FashionTest, "--count", "50", "--seed", "3", "-o", temp.File("b-images-idx3-ubyte.gz"));
        CliRunner.Run("subset", TestPaths.FashionTest, "--count", "50", "--seed", "4", "-o", temp.File("c-images-idx3-ubyte.gz"));

        var a = DatasetLoader.LoadRaw(temp.File("a-images-idx3-ubyte.gz"));
        Assert.Equal(50, a.Count);
        Assert.Equal((1, 28, 28), (a.Channels, a.Height, a.Width));
        Assert.NotNull(a.Labels);
        Assert.Equal(a.Pixels, DatasetLoader.LoadRaw(temp.File("b-images-idx3-ubyte.gz")).Pixels);
        Assert.NotEqual(a.Pixels, DatasetLoader.LoadRaw(temp.File("c-images-idx3-ubyte.gz")).Pixels);
        // Each image keeps its own label: every sampled image is one of the source's, with the source's label.
        var source = DatasetLoader.LoadRaw(TestPaths.FashionTest);
        var size = source.ImageSize;
        for (var i = 0; i < a.Count; i++)
        {
            var image = a.Pixels.AsSpan(i * size, size).ToArray();
            var found = Enumerable.Range(0, source.Count).First(j => source.Pixels.AsSpan(j * size, size).SequenceEqual(image));
            Assert.Equal(source.Labels![found], a.Labels![i]);
        }
    }

    [Fact]
    public void Subset_BadCountsAndUnwritableOutputs_AreCodedErrors_AndWriteNothing()
    {
        using var temp = new TestPaths.TempFolder();
        CliRunner.AssertCleanError(CliRunner.Run("subset", TestPaths.FashionTest, "--count", "0", "-o", temp.File("x-images-idx3-ubyte.gz")), 2, ErrorCodes.InvalidSetting);
        CliRunner.AssertCleanError(CliRunner.Run("subset", TestPaths.FashionTest, "--count", "5", "--skip", "1999", "-o", temp.File("x-images-idx3-ubyte.gz")), 2, ErrorCodes.InvalidSetting);
        CliRunner.AssertCleanError(CliRunner.Run("subset", TestPaths.FashionTest, "--count", "5", "-o", temp.File("x.gz")), 2, ErrorCodes.InvalidSetting);
        File.WriteAllText(temp.File("file"), "");
        CliRunner.AssertCleanError(CliRunner.Run("subset", TestPaths.FashionTest, "--count", "5", "-o", Path.Combine(temp.File("file"), "x-images-idx3-ubyte.gz")), 1, ErrorCodes.FileSystemRefused);
        // The labels file is checked too, before the images are written: no images without their labels.
        Directory.CreateDirectory(temp.File("y-labels-idx1-ubyte.gz"));
        CliRunner.AssertCleanError(CliRunner.Run("subset", TestPaths.FashionTest, "--count", "5", "-o", temp.File("y-images-idx3-ubyte.gz")), 1, ErrorCodes.FileSystemRefused);
        Assert.Equal(["file", "y-labels-idx1-ubyte.gz"], Directory.EnumerateFileSystemEntries(temp.Path).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void ClassFoldersNamedByNumber_GiveThoseNumbers_AndByName_AreRefused()
    {
        // IDX labels are class indices: a folder's name order (Bag, Coat, ...) is not the model's class order.
        using var temp = new TestPaths.TempFolder();
        Fixtures.WriteClassFolders(temp.File("numbered"), [(0, "0"), (2, "2"), (7, "7")], perClass: 3);
        Fixtures.WriteClassFolders(temp.File("named"), [(0, "T-shirt_top"), (8, "Bag")], perClass: 3);

        var numbered = CliRunner.Run("subset", temp.File("numbered"), "--count", "9", "-o", temp.File("n-images-idx3-ubyte.gz"));
        var named = CliRunner.Run("subset", temp.File("named"), "--count", "6", "-o", temp.File("x-images-idx3-ubyte.gz"));

        Assert.True(numbered.ExitCode == 0, numbered.Stderr);
        Assert.Equal([0, 2, 7], DatasetLoader.LoadRaw(temp.File("n-images-idx3-ubyte.gz")).Labels!.Distinct().Order());
        CliRunner.AssertCleanError(named, 2, ErrorCodes.InvalidSetting);
        Assert.Contains("names its classes by folder (Bag, T-shirt_top)", named.Stderr);
        Assert.False(File.Exists(temp.File("x-images-idx3-ubyte.gz")));
    }

    [Fact]
    public void LabelsAboveAByte_AreRefused_NotWrapped()
    {
        using var temp = new TestPaths.TempFolder();
        Fixtures.WriteNpz(temp.File("wide.npz"),
            ("x", "|u1", [4, 28, 28], new byte[4 * 28 * 28]),
            ("y", "<i8", [4], Fixtures.Bytes([300L, 1, 2, 3])));

        var result = CliRunner.Run("subset", temp.File("wide.npz"), "--count", "4", "-o", temp.File("w-images-idx3-ubyte.gz"));

        CliRunner.AssertCleanError(result, 2, ErrorCodes.InvalidSetting);
        Assert.Contains("label 300", result.Stderr);
        Assert.False(File.Exists(temp.File("w-images-idx3-ubyte.gz")));
    }

    [Fact]
    public void AnUnlabelledSubset_RemovesTheLabelsAnEarlierOneLeftBesideIt()
    {
        using var temp = new TestPaths.TempFolder();
        Directory.CreateDirectory(temp.File("unlabelled"));
        File.Copy(TestPaths.FashionTest, temp.File("unlabelled/u-images-idx3-ubyte.gz"));
        Assert.Equal(0, CliRunner.Run("subset", TestPaths.FashionTest, "--count", "10", "-o", temp.File("s-images-idx3-ubyte.gz")).ExitCode);
        Assert.True(File.Exists(temp.File("s-labels-idx1-ubyte.gz")));

        var again = CliRunner.Run("subset", temp.File("unlabelled/u-images-idx3-ubyte.gz"), "--count", "10", "--seed", "5", "-o", temp.File("s-images-idx3-ubyte.gz"));

        Assert.Equal(0, again.ExitCode);
        Assert.False(File.Exists(temp.File("s-labels-idx1-ubyte.gz")));
        Assert.Null(DatasetLoader.LoadRaw(temp.File("s-images-idx3-ubyte.gz")).Labels);
    }
}

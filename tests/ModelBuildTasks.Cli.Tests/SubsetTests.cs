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
}

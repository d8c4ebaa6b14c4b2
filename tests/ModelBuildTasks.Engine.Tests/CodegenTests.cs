using System.Reflection;
using System.Runtime.Loader;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using ModelBuildTasks.Codegen;
using ModelBuildTasks.Container;
using ModelBuildTasks.Data;
using ModelBuildTasks.Graph;
using ModelBuildTasks.Packaging;
using ModelBuildTasks.Passes.Quantization;
using ModelBuildTasks.Runtime;
using Snapshooter;
using Snapshooter.Xunit;

namespace ModelBuildTasks.Engine.Tests;

public class CodegenTests
{
    static ContainerMetadata MetadataOf(OnnxModel model, IReadOnlyList<string>? labels = null) => new()
    {
        Inputs = model.Graph.Inputs.Select(i => new TensorDescription(i.Name, "float", i.Shape!.Dims.Select(d => d.IsKnown ? d.ToString() : "N").ToArray())).ToList(),
        Outputs = [new TensorDescription("logits", "float", ["N", "10"])],
        Labels = labels ?? model.Metadata.GetValueOrDefault("labels")?.Split(',') ?? [],
        Preprocess = PreprocessSpec.Default.Resolved(eightBit: true).ToString(),
        Accuracy = new AccuracyFigures(0.935, 0.934, 0.931),
        EngineVersion = "0.1.0",
    };

    [Theory]
    [InlineData("vgg")]
    [InlineData("resnet")]
    [InlineData("densenet")]
    public void GeneratedSource_ForTheSampleModels_MatchesTheSnapshot(string family)
    {
        var path = Path.Combine(TestPaths.RepoRoot, $"samples/models/fashion_{family}.onnx");
        var model = ModelFile.Load(path);
        var source = WrapperGenerator.Generate(new WrapperSpec($"Fashion {family} classifier", "Samples.Models", $"fashion_{family}.cmodel", $"fashion_{family}.onnx", MetadataOf(model)));
        Snapshot.Match(source, SnapshotNameExtension.Create(family));
    }

    [Theory]
    [InlineData("MyApp", "myapp", "MyApp", "myapp")] // dotnet new console -n myapp: its code says "using myapp;"
    [InlineData("FashionModel", "my_app.v2", "FashionModel", "my_app.v2")]
    [InlineData("Modèle", "Café", "Modèle", "Café")]
    [InlineData("modèle réseau", "Apps.2d", "ModèleRéseau", "Apps._2d")]
    [InlineData("class", "my.namespace", "@class", "my.@namespace")]
    [InlineData("classifier", "x", "@classifier", "x")] // lower-case ASCII type names warn (CS8981) unless escaped
    [InlineData("file", "x", "@file", "x")] // a contextual keyword no type may be named (CS9056)
    [InlineData("record", "x", "@record", "x")]
    [InlineData("2nd model v2.1 final", "", "_2ndModelV21Final", "CompressedModels")]
    [InlineData("a\u202Eb", "x", "AB", "x")] // a bidi override is no identifier character
    [InlineData("Model", "x", "OnnxModel", "x")] // model.onnx: a class may not hold a member of its own name (CS0542)
    [InlineData("Labels", "x", "LabelsModel", "x")]
    [InlineData("model", "x", "modelModel", "x")] // the private field
    [InlineData("__arglist", "__makeref", "@__arglist", "@__makeref")] // undocumented keywords (CS1001)
    [InlineData("mode\u0300le re\u0301seau", "x", "ModèleRéseau", "x")] // as macOS stores the file name: decomposed, one word each
    public void GivenNamesAreKeptAsWritten_AndCompileWithoutWarnings(string className, string ns, string expectedClass, string expectedNamespace)
    {
        className = System.Text.RegularExpressions.Regex.Unescape(className);
        Assert.Equal(expectedClass, CSharpNames.Identifier(className));
        Assert.Equal(expectedNamespace, CSharpNames.Namespace(ns));
        var model = TestModels.Plain();
        var source = WrapperGenerator.Generate(new WrapperSpec(className, ns, "m.cmodel", "m.onnx", MetadataOf(model)));
        var (assembly, warnings) = Compile(source, ContainerPackaging.Pack(model, MetadataOf(model)), "m.cmodel");
        Assert.Empty(warnings);
        var type = Assert.Single(assembly.GetTypes(), t => t.IsPublic);
        Assert.Equal(expectedClass.TrimStart('@'), type.Name);
        // The names a class is renamed away from are all the names the class has.
        const System.Reflection.BindingFlags all = System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic
            | System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.DeclaredOnly;
        Assert.All(type.GetMembers(all).Where(m => m is not System.Reflection.ConstructorInfo && !m.Name.Contains('<') && !m.Name.StartsWith("get_", StringComparison.Ordinal)),
            m => Assert.Contains(m.Name, WrapperGenerator.MemberNames));
    }

    [Theory]
    [InlineData("Runtime")]
    [InlineData("Container")]
    public void AClassThatWouldHideTheRuntimesNamespace_IsRenamed_AndCompiles(string className)
    {
        // ModelBuildTasks.Runtime as a class hid the namespace the class's code names (CS0437).
        var model = TestModels.Plain();
        var source = WrapperGenerator.Generate(new WrapperSpec(className, "ModelBuildTasks", "m.cmodel", "m.onnx", MetadataOf(model)));
        var (assembly, warnings) = Compile(source, ContainerPackaging.Pack(model, MetadataOf(model)), "m.cmodel");
        Assert.Empty(warnings);
        Assert.Equal(className + "Model", Assert.Single(assembly.GetTypes(), t => t.IsPublic).Name);
    }

    [Fact]
    public void AVeryLongName_IsCutToWhatMetadataHolds()
    {
        var name = new string('é', 1100); // 2,200 UTF-8 bytes: CS7013 beyond 1,024
        var model = TestModels.Plain();
        var source = WrapperGenerator.Generate(new WrapperSpec(name, name, "m.cmodel", "m.onnx", MetadataOf(model)));
        var (assembly, warnings) = Compile(source, ContainerPackaging.Pack(model, MetadataOf(model)), "m.cmodel");
        Assert.Empty(warnings);
        Assert.True(Assert.Single(assembly.GetTypes(), t => t.IsPublic).Name.Length <= 150);
    }

    [Theory]
    [InlineData("fashion_vgg", "FashionVgg")]
    [InlineData("resnet18", "Resnet18")]
    [InlineData("modèle réseau", "ModèleRéseau")]
    [InlineData("2nd model", "_2ndModel")]
    public void ClassesNamedAfterTheirModelFile_ArePascalCase(string fileName, string expected) =>
        Assert.Equal(expected, CSharpNames.FromFileName(fileName));

    [Fact]
    public void HostileNamesAndLabels_CannotInjectCode()
    {
        var model = TestModels.Plain();
        var labels = new[] { "\"; System.Environment.Exit(1); //", "line\nbreak */ /*", "</summary><script>", "\\u0022", "ok" };
        var source = WrapperGenerator.Generate(new WrapperSpec("class", "System.IO;evil namespace", "res\"ource", "a\nb <c>.onnx", MetadataOf(model, labels)));
        var tree = CSharpSyntaxTree.ParseText(source);
        Assert.Empty(tree.GetDiagnostics());
        var root = tree.GetRoot();
        // Exactly one type, one namespace, no statements outside the expected members.
        Assert.Single(root.DescendantNodes().OfType<Microsoft.CodeAnalysis.CSharp.Syntax.ClassDeclarationSyntax>());
        Assert.DoesNotContain(root.DescendantNodes().OfType<Microsoft.CodeAnalysis.CSharp.Syntax.InvocationExpressionSyntax>(), i => i.Expression.ToString().Contains("Exit")); // a label is text inside a string literal, never a call
        Assert.Contains("public sealed partial class @class :", source); // a keyword as ClassName, escaped
        Assert.Contains("namespace System.IOEvilNamespace;", source);
        // The labels come back exactly when compiled.
        var (assembly, _) = Compile(source, ContainerPackaging.Pack(TestModels.Plain(), MetadataOf(model, labels)), "res\"ource");
        var compiledLabels = (IReadOnlyList<string>)assembly.GetTypes().Single(t => t.Name == "class").GetProperty("Labels")!.GetValue(null)!;
        Assert.Equal(labels, compiledLabels);
    }

    [Fact]
    public void GeneratedWrapper_CompilesWithoutWarnings_AndPredictsLikeTheRuntime()
    {
        var calibration = DatasetLoader.Load(TestPaths.FashionTrain, limit: 128);
        var (quantized, _) = QdqQuantizer.Quantize(TestModels.Plain(), calibration);
        var metadata = MetadataOf(quantized, Enumerable.Range(0, 10).Select(i => $"class {i}").ToArray());
        var container = ContainerPackaging.Pack(quantized, metadata);
        var source = WrapperGenerator.Generate(new WrapperSpec("TinyClassifier", "Tests.Generated", "tiny.cmodel", "tiny.onnx", metadata));
        var probe = """
            namespace Tests.Generated;
            public static class Probe
            {
                public static int[] Classes(float[] images, int count)
                {
                    var predictions = TinyClassifier.Instance.Predict(images, count);
                    var result = new int[count];
                    for (var i = 0; i < count; i++) result[i] = predictions[i].ClassIndex;
                    return result;
                }
                public static string FirstLabel(float[] image) => TinyClassifier.Instance.Predict(image).Label;
                public static int Size => TinyClassifier.InputSize * 1000 + TinyClassifier.ClassCount;
                public static int[] Top3(float[] image) => global::System.Array.ConvertAll(TinyClassifier.Instance.TopK(image, 3), p => p.ClassIndex);
                public static float[] Probabilities(float[] image) => TinyClassifier.Instance.Probabilities(image);
                public static float[] Logits(float[] image) => TinyClassifier.Instance.Logits(image);
                public static int FromFile(string path) => TinyClassifier.Instance.PredictImage(path).ClassIndex;
                public static int FromBytes(byte[] encoded) => TinyClassifier.Instance.PredictImage(encoded).ClassIndex;
                public static int WithOptions(float[] image)
                {
                    var called = false;
                    using var own = TinyClassifier.Create(new() { IntraOpThreads = 1, ConfigureSession = o => called = true });
                    return called ? own.Predict(image).ClassIndex : -1;
                }
                public static int AfterDisposingTheSharedInstance(float[] image)
                {
                    TinyClassifier.Instance.Dispose(); // other code may be using it: left alone
                    return TinyClassifier.Instance.Predict(image).ClassIndex;
                }
                public static bool LabelsAreReadOnly => TinyClassifier.Labels is not string[];
            }
            """;
        var (assembly, warnings) = Compile(source + "\n" + probe.Replace("namespace Tests.Generated;", ""), container, "tiny.cmodel");
        Assert.Empty(warnings);

        var test = DatasetLoader.Load(TestPaths.FashionTest, limit: 50);
        var type = assembly.GetTypes().Single(t => t.Name == "Probe");
        var classes = (int[])type.GetMethod("Classes")!.Invoke(null, [test.Pixels, test.Count])!;
        using var runtime = CompressedModel.Load(container);
        Assert.Equal(runtime.Predict(test.Pixels, test.Count).Select(p => p.ClassIndex), classes);
        Assert.Equal(784 * 1000 + 10, (int)type.GetProperty("Size")!.GetValue(null)!);
        Assert.StartsWith("class ", (string)type.GetMethod("FirstLabel")!.Invoke(null, [test.Image(0).ToArray()])!);

        // Issue 14, point 8, through the generated class: top-k, probabilities, raw logits, image files, session options.
        T Call<T>(string name, object argument) => (T)type.GetMethod(name)!.Invoke(null, [argument])!;
        var image = test.Image(0).ToArray();
        var logits = Call<float[]>("Logits", image);
        Assert.Equal(Enumerable.Range(0, 10).OrderByDescending(i => logits[i]).Take(3), Call<int[]>("Top3", image));
        Assert.Equal(1.0, Call<float[]>("Probabilities", image).Sum(), 4);
        Assert.Equal(classes[0], Call<int>("WithOptions", image));
        using var folder = new TestPaths.TempFolder();
        var png = Png.Grey(image.Select(v => (byte)Math.Round(v * 255)).ToArray(), 28, 28);
        File.WriteAllBytes(folder.File("0.png"), png);
        Assert.Equal(classes[0], Call<int>("FromFile", folder.File("0.png")));
        Assert.Equal(classes[0], Call<int>("FromBytes", png));
        Assert.Equal(classes[0], Call<int>("AfterDisposingTheSharedInstance", image));
        Assert.True((bool)type.GetProperty("LabelsAreReadOnly")!.GetValue(null)!);
    }

    [Fact]
    public void AFeatureExtractorsWrapper_ReturnsFeatures_AndHasNoLabelsNorPredict()
    {
        var calibration = DatasetLoader.Load(TestPaths.FashionTrain, limit: 128);
        var (quantized, _) = QdqQuantizer.Quantize(TestModels.FeatureExtractor(), calibration);
        var metadata = MetadataOf(quantized, []) with
        {
            OutputKind = ContainerMetadata.Features,
            Outputs = [new TensorDescription("features", "float", ["N", "16", "1", "1"])],
            Accuracy = new AccuracyFigures(1, 0.9934, 0.9921),
        };
        var container = ContainerPackaging.Pack(quantized, metadata);
        var source = WrapperGenerator.Generate(new WrapperSpec("TinyEmbedder", "Tests.Generated", "embedder.cmodel", "embedder.onnx", metadata));
        Snapshot.Match(source);
        Assert.DoesNotContain("Predict", source);
        Assert.DoesNotContain("Labels", source);
        var probe = """
            public static class Probe
            {
                public static float[] Features(float[] images, int count) => Tests.Generated.TinyEmbedder.Instance.Features(images, count);
                public static int Size => Tests.Generated.TinyEmbedder.FeatureSize;
            }
            """;
        var (assembly, warnings) = Compile(source + "\n" + probe, container, "embedder.cmodel");
        Assert.Empty(warnings);
        var test = DatasetLoader.Load(TestPaths.FashionTest, limit: 20);
        var type = assembly.GetTypes().Single(t => t.Name == "Probe");
        var features = (float[])type.GetMethod("Features")!.Invoke(null, [test.Pixels, test.Count])!;
        Assert.Equal(16, (int)type.GetProperty("Size")!.GetValue(null)!);
        using var runtime = CompressedModel.Load(container);
        Assert.False(runtime.IsClassifier);
        Assert.Equal(runtime.Features(test.Pixels, test.Count), features);
        Assert.Equal(20 * 16, features.Length);
        Assert.Throws<InvalidOperationException>(() => runtime.Predict(test.Image(0)));
    }

    [Fact]
    public void TheUncompressedWrapper_HasTheSameMembers_AndRunsTheOriginalOnnx()
    {
        // Issue 14, point 4: ModelCompressionEnabled=false and design-time builds embed the original
        // ONNX model; the class carries the metadata a container would, and has the same members.
        var model = TestModels.Plain();
        var metadata = MetadataOf(model, Enumerable.Range(0, 10).Select(i => $"class {i}").ToArray());
        var onnx = OnnxExport.ToBytes(model);
        var compressed = WrapperGenerator.Generate(new WrapperSpec("Tiny", "Tests.Generated", "tiny.cmodel", "tiny.onnx", metadata));
        var plain = WrapperGenerator.Generate(new WrapperSpec("Tiny", "Tests.Generated", "tiny.onnx", "tiny.onnx", metadata, Uncompressed: true));
        Snapshot.Match(plain);
        static string[] Members(string source) => CSharpSyntaxTree.ParseText(source).GetRoot().DescendantNodes()
            .OfType<Microsoft.CodeAnalysis.CSharp.Syntax.MemberDeclarationSyntax>()
            .Where(m => m.Modifiers.Any(t => t.Text == "public")).Select(m => m switch
            {
                Microsoft.CodeAnalysis.CSharp.Syntax.MethodDeclarationSyntax d => $"{d.ReturnType} {d.Identifier}{d.ParameterList}",
                Microsoft.CodeAnalysis.CSharp.Syntax.PropertyDeclarationSyntax d => $"{d.Type} {d.Identifier}",
                Microsoft.CodeAnalysis.CSharp.Syntax.FieldDeclarationSyntax d => d.Declaration.ToString().Split('=')[0].Trim(),
                Microsoft.CodeAnalysis.CSharp.Syntax.ClassDeclarationSyntax d => $"class {d.Identifier}",
                _ => m.Kind().ToString(),
            }).ToArray();
        Assert.Equal(Members(compressed), Members(plain));
        var probe = """
            public static class Probe
            {
                public static int[] Top3(float[] image) => System.Array.ConvertAll(Tests.Generated.Tiny.Instance.TopK(image, 3), p => p.ClassIndex);
                public static string Label(float[] image) => Tests.Generated.Tiny.Instance.Predict(image).Label;
            }
            """;
        var (assembly, warnings) = Compile(plain + "\n" + probe, onnx, "tiny.onnx");
        Assert.Empty(warnings);
        var test = DatasetLoader.Load(TestPaths.FashionTest, limit: 5);
        var type = assembly.GetTypes().Single(t => t.Name == "Probe");
        using var runtime = CompressedModel.LoadOnnx(onnx, metadata);
        for (var i = 0; i < test.Count; i++)
        {
            var image = test.Image(i).ToArray();
            Assert.Equal(runtime.TopK(image, 3).Select(p => p.ClassIndex), (int[])type.GetMethod("Top3")!.Invoke(null, [image])!);
            Assert.Equal(runtime.Predict(image).Label, (string)type.GetMethod("Label")!.Invoke(null, [image])!);
        }
    }

    /// <summary>Compiles <paramref name="source"/> into an in-memory assembly with the container as a manifest resource.</summary>
    internal static (Assembly Assembly, IReadOnlyList<Diagnostic> Warnings) Compile(string source, byte[] container, string resourceName)
    {
        var references = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Concat([typeof(CompressedModel).Assembly.Location, typeof(ContainerMetadata).Assembly.Location])
            .Distinct()
            .Select(p => MetadataReference.CreateFromFile(p));
        var compilation = CSharpCompilation.Create($"Generated{Guid.NewGuid():N}", [CSharpSyntaxTree.ParseText(source, new CSharpParseOptions(LanguageVersion.Latest))], references,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));
        using var output = new MemoryStream();
        var emitted = compilation.Emit(output, manifestResources: [new ResourceDescription(resourceName, () => new MemoryStream(container), isPublic: true)]);
        Assert.True(emitted.Success, string.Join("\n", emitted.Diagnostics));
        output.Position = 0;
        return (new AssemblyLoadContext(null, isCollectible: false).LoadFromStream(output),
            emitted.Diagnostics.Where(d => d.Severity >= DiagnosticSeverity.Warning).ToList());
    }
}

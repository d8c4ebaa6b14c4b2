using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using ModelBuildTasks.Codegen;
using ModelBuildTasks.Container;

namespace ModelBuildTasks.Engine.Tests;

/// <summary>Defect 2 of issue #12: a model file name must not end a generated comment and put code after it.</summary>
public class CommentInjectionTests
{
    static readonly ContainerMetadata Metadata = new()
    {
        Inputs = [new TensorDescription("input", "float", ["N", "1", "28", "28"])],
        Outputs = [new TensorDescription("logits", "float", ["N", "10"])],
        Preprocess = "scale=1/255\u2028class Evil {}",
    };

    [Theory]
    [InlineData("\u2028")]
    [InlineData("\u2029")]
    [InlineData("\u0085")]
    [InlineData("\r")]
    [InlineData("\n")]
    public void ALineTerminatorInTheFileName_StaysInsideTheComment(string terminator)
    {
        var name = $"m.onnx{terminator}static class Injected {{ [System.Runtime.CompilerServices.ModuleInitializer] internal static void Run() => System.Environment.Exit(42); }}{terminator}//";
        var source = WrapperGenerator.Generate(new WrapperSpec("Classifier", "Ns", "m.cmodel", name, Metadata));
        var tree = CSharpSyntaxTree.ParseText(source);
        Assert.Empty(tree.GetDiagnostics());
        var classes = tree.GetRoot().DescendantNodes().OfType<ClassDeclarationSyntax>().Select(c => c.Identifier.Text).ToList();
        Assert.Equal(["Classifier"], classes);
        Assert.DoesNotContain(tree.GetRoot().DescendantNodes().OfType<InvocationExpressionSyntax>(), i => i.ToString().Contains("Exit"));
    }

    [Fact]
    public void CommentText_KeepsVisibleText_AndBlanksEveryInvisibleCharacter()
    {
        Assert.Equal("fashion_vgg (é, 模型, 🙂).onnx", CSharpNames.CommentText("fashion_vgg (é, 模型, 🙂).onnx"));
        Assert.Equal("a b c d e f g", CSharpNames.CommentText("a\u2028b\u2029c\u0085d\re\u202Ef\ng"));
        Assert.Equal("x ", CSharpNames.CommentText("x\ud800"));
    }
}

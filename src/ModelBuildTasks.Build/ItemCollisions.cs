using ModelBuildTasks.Codegen;

namespace ModelBuildTasks.Build;

/// <summary>
/// Two <c>CompressModel</c> items must not share outputs: each writes a folder named after its
/// model file under obj/, and a class named after its ClassName. Without this check, two
/// <c>model.onnx</c> files in different folders silently overwrite each other's container, and two
/// ClassNames that sanitize alike fail inside generated code (CS0101/CS0102) that names neither item.
/// </summary>
static class ItemCollisions
{
    /// <summary>One item: how the project names it, and the outputs it claims.</summary>
    public sealed record Item(string Spec, string Folder, string ClassName, string Namespace, string ModelPath = "");

    /// <summary>The class an item generates: its ClassName, else one made from the model's file name.</summary>
    public static string ClassNameOf(Microsoft.Build.Framework.ITaskItem model) =>
        model.GetMetadata("ClassName").Trim() is { Length: > 0 } c ? c : CSharpNames.FromFileName(Path.GetFileNameWithoutExtension(model.GetMetadata("FullPath")));

    /// <summary>An item and the outputs it claims under <paramref name="outputDirectory"/>: compressed, uncompressed and design-time builds claim the same.</summary>
    public static Item Of(Microsoft.Build.Framework.ITaskItem model, string outputDirectory) =>
        new(model.ItemSpec, Path.Combine(outputDirectory, Path.GetFileNameWithoutExtension(model.GetMetadata("FullPath"))), ClassNameOf(model),
            model.GetMetadata("Namespace").Trim(), model.GetMetadata("FullPath"));

    /// <summary>Reports every collision through <paramref name="error"/> (code, file, message), naming both items: MBT1302 for shared output folders, MBT1303 for one generated class.</summary>
    public static void Report(IReadOnlyList<Item> items, Action<string, string, string> error)
    {
        var comparer = OperatingSystem.IsLinux() ? StringComparer.Ordinal : StringComparer.OrdinalIgnoreCase; // case-insensitive file systems collide on case too
        foreach (var group in items.GroupBy(i => Path.GetFullPath(i.Folder), comparer).Where(g => g.Count() > 1))
        {
            var first = group.First();
            foreach (var other in group.Skip(1))
                error("MBT1302", other.Spec, first.ModelPath.Length > 0 && comparer.Equals(first.ModelPath, other.ModelPath)
                    ? $"CompressModel items '{first.Spec}' and '{other.Spec}' are the same model, so both would write {group.Key}; remove one of them (to compress it twice with other settings, copy the model file)"
                    : $"CompressModel items '{first.Spec}' and '{other.Spec}' have the same file name, so both would write {group.Key}; rename one of the model files");
        }
        foreach (var group in items.GroupBy(i => CSharpNames.ClassOf(i.ClassName, i.Namespace) is var (ns, name) ? ns + "." + name : "", StringComparer.Ordinal).Where(g => g.Count() > 1))
        {
            var first = group.First();
            foreach (var other in group.Skip(1))
                error("MBT1303", other.Spec,
                    $"CompressModel items '{first.Spec}' (ClassName '{first.ClassName}') and '{other.Spec}' (ClassName '{other.ClassName}') both generate the class {group.Key}; give one of them another ClassName or Namespace");
        }
    }
}

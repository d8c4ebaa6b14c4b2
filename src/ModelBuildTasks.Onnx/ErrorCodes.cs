namespace ModelBuildTasks;

/// <summary>
/// Stable error codes. The numbers never change meaning once released; docs/errors.md lists them.
/// 1xxx: models, 11xx: datasets, 12xx: evaluation, 15xx: the cache, 19xx: internal.
/// </summary>
public static class ErrorCodes
{
    /// <summary>The model file does not exist or cannot be read.</summary>
    public const string ModelNotFound = "MBT1001";
    /// <summary>The file is not a valid ONNX model (truncated, random bytes, missing graph).</summary>
    public const string InvalidModel = "MBT1002";
    /// <summary>A tensor's external data is missing, out of range, or outside the model's folder.</summary>
    public const string InvalidExternalData = "MBT1003";
    /// <summary>The model uses operators the engine does not support.</summary>
    public const string UnsupportedOperator = "MBT1004";
    /// <summary>The model's graph is inconsistent (shapes that cannot match, dangling inputs).</summary>
    public const string InvalidGraph = "MBT1005";
    /// <summary>A <c>.cmodel</c> container is damaged, truncated or crafted.</summary>
    public const string InvalidContainer = "MBT1006";
    /// <summary>The dataset path does not exist or cannot be read.</summary>
    public const string DatasetNotFound = "MBT1101";
    /// <summary>The dataset file is malformed or of an unknown kind.</summary>
    public const string InvalidDataset = "MBT1102";
    /// <summary>The number of labels differs from the number of images.</summary>
    public const string LabelCountMismatch = "MBT1103";
    /// <summary>The dataset's images do not have the shape the model's input expects.</summary>
    public const string InputShapeMismatch = "MBT1104";
    /// <summary>The preprocessing specification cannot be parsed.</summary>
    public const string InvalidPreprocessing = "MBT1105";
    /// <summary>A label is not one of the model's classes (at least the number of classes, or negative).</summary>
    public const string LabelOutOfRange = "MBT1106";
    /// <summary>Warning: the model's stored class names differ from the dataset's class folders (both lists are given).</summary>
    public const string LabelNameMismatch = "MBT1107";
    /// <summary>Warning: the model's N x H x W x C input became N x C x H x W; the compressed model and its class take C x H x W images.</summary>
    public const string InputLayoutConverted = "MBT1108";
    /// <summary>Warning: the validation data are floats of a range image files cannot be mapped to without a given scale.</summary>
    public const string ImageScaleUnknown = "MBT1109";
    /// <summary>Warning: the original model's accuracy on the validation labels is no better than chance, so the labels are likely not its classes.</summary>
    public const string BaselineAtChance = "MBT1110";
    /// <summary>Warning: the model's input had a symbolic image size (height, width or channels), fixed to the validation images' so the model can be quantized and run.</summary>
    public const string InputSizeFixed = "MBT1111";
    /// <summary>Warning: the model's uint8 input, cast to float by the graph, became a float input of the same pixel values; the compressed model and its class take floats.</summary>
    public const string InputTypeConverted = "MBT1112";
    /// <summary>Warning: the training add-on warned of a fine-tuning run (steps skipped whose loss or gradient was not finite, say).</summary>
    public const string FineTuningWarning = "MBT1203";
    /// <summary>ONNX Runtime could not load or run the model.</summary>
    public const string RuntimeFailure = "MBT1201";
    /// <summary>The compression engine stopped without reporting an error of its own: killed (out of memory, a time limit) or crashed outside .NET's reach.</summary>
    public const string EngineStopped = "MBT1202";
    /// <summary>The compressed model cannot meet the accuracy target.</summary>
    public const string TargetNotMet = "MBT1401";
    /// <summary>Warning: the validation set is too small for the accuracy budget (its noise is comparable to the budget).</summary>
    public const string NoisyValidation = "MBT1402";
    /// <summary>A bad command-line or build setting.</summary>
    public const string InvalidSetting = "MBT1301";
    /// <summary>Two <c>CompressModel</c> items would write the same output files (same model file name in different folders).</summary>
    public const string OutputCollision = "MBT1302";
    /// <summary>Two <c>CompressModel</c> items would generate classes of the same name in the same namespace.</summary>
    public const string ClassNameCollision = "MBT1303";
    /// <summary>The project's target framework cannot run the generated class (it needs .NET 8 or later).</summary>
    public const string UnsupportedTargetFramework = "MBT1304";
    /// <summary>The file system refused to write (or read) a path: no permission, a file or folder in the way, a full disk.</summary>
    public const string FileSystemRefused = "MBT1305";
    /// <summary>Warning: a <c>CompressModel</c> item has metadata the package does not know, close to a name it does (a typo would otherwise be ignored).</summary>
    public const string UnknownMetadata = "MBT1306";
    /// <summary>The project that lists <c>CompressModel</c> items is not C# (F#, Visual Basic): the generated class is C# source.</summary>
    public const string UnsupportedLanguage = "MBT1307";
    /// <summary>Warning: the cache could not be written (read-only, full, or a file where an entry goes); the result is still written.</summary>
    public const string CacheUnavailable = "MBT1503";
    /// <summary>Warning: the remote cache could not be used (unreachable, too slow, access denied); the build goes on without it.</summary>
    public const string RemoteCacheUnavailable = "MBT1501";
    /// <summary>Warning: a remote cache entry failed verification; it is ignored, and replaced after the compression.</summary>
    public const string RemoteCacheEntryDamaged = "MBT1502";
    /// <summary>An unexpected failure inside the engine (a bug: please report it).</summary>
    public const string Internal = "MBT1999";
}

using ModelBuildTasks.Data;

namespace ModelBuildTasks.Evaluation;

/// <summary>The metric a compression is judged by, and why it was chosen.</summary>
/// <param name="Metric">The metric.</param>
/// <param name="Reason">One sentence for the report, e.g. <c>output [N,512,1,1] is not a class vector</c>.</param>
public sealed record MetricChoice(Metric Metric, string Reason)
{
    /// <summary>Whether the model's output is class scores (so a wrapper offers Predict with labels).</summary>
    public bool IsClassifier => Metric != Metric.Cosine;

    /// <summary>
    /// Chooses the metric: the one asked for, or automatically. A class vector is a rank-2 output
    /// [N, C] with C &gt;= 2. A classifier with labels that fit its C classes is scored by accuracy;
    /// without labels, by agreement with the original; every other output (embeddings, feature
    /// maps such as [N, 512, 1, 1], or labels that do not fit the output) by cosine similarity.
    /// </summary>
    /// <param name="requested">The user's choice, or null for automatic.</param>
    /// <param name="outputDims">The first output's dimensions (-1 for symbolic ones).</param>
    /// <param name="data">The validation data.</param>
    public static MetricChoice Choose(Metric? requested, IReadOnlyList<long> outputDims, ImageDataset data)
    {
        var shape = "[" + string.Join(",", outputDims.Select((d, i) => i == 0 || d < 0 ? "N" : d.ToString(System.Globalization.CultureInfo.InvariantCulture))) + "]";
        var classes = ClassScores.Count(outputDims, asked: requested is Metric.Accuracy or Metric.Agreement);
        var labelsFit = data.Labels is { } labels && classes > 0 && labels.All(l => l >= 0 && l < classes);
        if (requested is { } metric)
        {
            if (metric != Metric.Cosine && classes == 0)
                throw new ModelBuildException(ErrorCodes.InvalidSetting, $"the {Name(metric)} metric needs class scores, but the model's output is {shape}; use the cosine metric");
            if (metric == Metric.Accuracy && !data.HasLabels)
                throw new ModelBuildException(ErrorCodes.InvalidSetting, "the accuracy metric needs labelled validation data; use agreement (with the original model) instead", data.Source);
            if (metric == Metric.Accuracy && !labelsFit)
                throw new ModelBuildException(ErrorCodes.InvalidDataset, $"the labels do not fit the model's {classes} classes (output {shape})", data.Source);
            return new MetricChoice(metric, "asked for");
        }
        if (classes == 0)
            return new MetricChoice(Metric.Cosine, $"output {shape} is not a class vector"
                + (ClassScores.Count(outputDims, asked: true) > 0 ? " (if it is class scores, ask for --metric accuracy; MSBuild: Metric)" : ""));
        if (labelsFit) return new MetricChoice(Metric.Accuracy, $"output {shape} is class scores and the data has labels");
        return data.HasLabels
            ? new MetricChoice(Metric.Cosine, $"the data's labels do not fit the {classes} outputs of {shape}")
            : new MetricChoice(Metric.Agreement, $"output {shape} is class scores and the data has no labels");
    }

    /// <summary>The metric's name in settings and reports (<c>accuracy</c>, <c>agreement</c>, <c>cosine</c>).</summary>
    public static string Name(Metric metric) => metric.ToString().ToLowerInvariant();

    /// <summary>Parses a metric name; null or <c>auto</c> is null.</summary>
    public static Metric? Parse(string? text) => text?.Trim().ToLowerInvariant() switch
    {
        null or "" or "auto" => null,
        "accuracy" => Metric.Accuracy,
        "agreement" => Metric.Agreement,
        "cosine" => Metric.Cosine,
        _ => throw new ModelBuildException(ErrorCodes.InvalidSetting, $"unknown metric '{text}' (available: auto, accuracy, agreement, cosine)"),
    };
}

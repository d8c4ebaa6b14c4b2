namespace ModelBuildTasks.Compression;

/// <summary>The outcome of one compression: the container to embed and the report of every figure measured on the way.</summary>
/// <param name="Container">The .cmodel bytes.</param>
/// <param name="Report">What was measured and chosen.</param>
public sealed record CompressionResult(byte[] Container, CompressionReport Report);

/// <summary>One evaluated candidate.</summary>
/// <param name="Description">Its settings, e.g. <c>iq bits=8 calibration=minmax</c>.</param>
/// <param name="Bytes">Its container size.</param>
/// <param name="Accuracy">Its validation accuracy.</param>
public sealed record CandidateResult(string Description, long Bytes, double Accuracy);

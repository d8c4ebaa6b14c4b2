namespace ModelBuildTasks.Compression;

/// <summary>The outcome of one compression: the container to embed and the report of every figure measured on the way.</summary>
/// <param name="Container">The .cmodel bytes.</param>
/// <param name="Report">What was measured and chosen.</param>
public sealed record CompressionResult(byte[] Container, CompressionReport Report);

/// <summary>One evaluated candidate.</summary>
/// <param name="Description">Its stage and knobs, e.g. <c>dc: bits=8 ns=0.3 dc=0.8</c>.</param>
/// <param name="Bytes">Its container size.</param>
/// <param name="Accuracy">Its validation accuracy.</param>
/// <param name="Stage">The search stage that evaluated it.</param>
/// <param name="Bits">IQ's bits, if applied.</param>
/// <param name="NsRatio">NS's channel ratio.</param>
/// <param name="DcRatio">DC's pruning ratio, if applied.</param>
/// <param name="Chosen">Whether it is the result.</param>
/// <param name="Bound">The lower confidence bound of its accuracy, which decided pass or fail.</param>
/// <param name="StoppedAt">When its evaluation stopped early, clearly below the threshold it was measured against: the images scored (accuracy and bound are on those).</param>
public sealed record CandidateResult(string Description, long Bytes, double Accuracy, string Stage = "", int? Bits = null, double NsRatio = 0, double? DcRatio = null, bool Chosen = false, double Bound = 0, int? StoppedAt = null);

/// <summary>A warning for the user, with its code.</summary>
/// <param name="Code">The code, e.g. <c>MBT1402</c>.</param>
/// <param name="Message">What to know and what to do.</param>
public sealed record ReportWarning(string Code, string Message);

/// <summary>Channels NS kept in one layer.</summary>
/// <param name="Layer">The tensor whose channels were counted (a conv output).</param>
/// <param name="Kept">Channels kept.</param>
/// <param name="Of">Channels before.</param>
/// <param name="Criterion">How its channels were ranked: <c>batchnorm-gamma</c> (the paper's, without calibration statistics) or
/// <c>consumer-variance-share</c> (post-training: the share of each consumer's input energy a channel carries).</param>
public sealed record LayerChannels(string Layer, int Kept, int Of, string Criterion);

/// <summary>One weight tensor's bytes, before (fp32) and after (as stored in the container, its scales included).</summary>
/// <param name="Layer">The original weight's name.</param>
/// <param name="OriginalBytes">fp32 bytes in the original model.</param>
/// <param name="CompressedBytes">Stored bytes in the container (0 when removed).</param>
/// <param name="Bits">The grid its weights are stored on: the model's bits, or the layer's own narrower ones (per-layer precision); null when it stays float.</param>
public sealed record LayerBytes(string Layer, long OriginalBytes, long CompressedBytes, int? Bits = null);

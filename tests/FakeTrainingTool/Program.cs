// Records how it was started: the arguments it received and the usage name the main tool passed.
Console.WriteLine("fake-training-tool args: " + string.Join(" ", args.Select(a => $"[{a}]")));
Console.WriteLine("fake-training-tool usage: " + Environment.GetEnvironmentVariable("MBT_USAGE_NAME"));
// As the engine runs it (train IN.onnx ... -o OUT.onnx): "trains" by returning the model unchanged, so a
// compression that fine-tunes completes with it (the cache tests tell two builds of it apart).
if (args is ["train", var input, ..] && File.Exists(input) && Array.IndexOf(args, "-o") is var o and >= 0 && o + 1 < args.Length)
    File.Copy(input, args[o + 1], overwrite: true);
return 0;

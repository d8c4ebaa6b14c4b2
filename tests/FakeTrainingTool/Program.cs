// Records how it was started: the arguments it received and the usage name the main tool passed.
Console.WriteLine("fake-training-tool args: " + string.Join(" ", args.Select(a => $"[{a}]")));
Console.WriteLine("fake-training-tool usage: " + Environment.GetEnvironmentVariable("MBT_USAGE_NAME"));
return 0;

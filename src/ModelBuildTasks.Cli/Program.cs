using ModelBuildTasks.Cli;

return CompressModelCli.Run(args);

global using Xunit;
global using ModelBuildTasks.Tests;

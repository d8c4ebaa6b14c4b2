namespace ModelBuildTasks.Data;

/// <summary>Creates the errors that dataset readers report.</summary>
static class DataErrors
{
    public static ModelBuildException Invalid(string path, string message) => new(ErrorCodes.InvalidDataset, message, path);
}

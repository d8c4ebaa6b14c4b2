using System.Runtime.InteropServices;

namespace ModelBuildTasks.Cli;

/// <summary>
/// What a stopped run (Ctrl+C, SIGTERM, a closed terminal) leaves behind: no temporary file of a write under way, and a
/// terminal whose cursor the progress bar hid shown again. The process still ends, with the shell's code for the signal (exit 130, 143, 129):
/// every output is written whole by a rename, so one cut short is the previous file or none.
/// </summary>
static class Interruption
{
    /// <summary>True while the live progress bar owns the terminal (and has hidden its cursor).</summary>
    public static volatile bool Drawing;

    /// <summary>Installs the handlers for the life of the returned registrations.</summary>
    public static IDisposable Handle()
    {
        var registrations = new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM, PosixSignal.SIGHUP }
            .Select(signal => PosixSignalRegistration.Create(signal, _ => CleanUp())).ToList(); // then the runtime's own handling ends the process
        return new Registrations(registrations);
    }

    static void CleanUp()
    {
        AtomicFile.DeleteUnfinished();
        FineTuning.FineTuner.StopRunning();
        // Show the cursor and end the bar's line. Straight to the file descriptor: Console.Error's lock may be held by the
        // bar's own drawing, which would never let this handler finish, nor the process end.
        if (Drawing)
        {
            using var stderr = Console.OpenStandardError();
            stderr.Write("\u001b[?25h\n"u8);
        }
    }

    sealed class Registrations(List<PosixSignalRegistration> registrations) : IDisposable
    {
        public void Dispose() => registrations.ForEach(r => r.Dispose());
    }
}

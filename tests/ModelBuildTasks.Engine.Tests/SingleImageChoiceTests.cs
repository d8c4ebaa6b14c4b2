using ModelBuildTasks.Runtime;

namespace ModelBuildTasks.Engine.Tests;

/// <summary>The rule that picks the session for single images, on times given to it (the runners feed it measured ones).</summary>
public class SingleImageChoiceTests
{
    /// <summary>Single images per session before the choice is made.</summary>
    public const int Runs = SingleImageChoice.WarmUps + SingleImageChoice.Trials;

    [Fact]
    public void TheLowerMedian_Wins_OnceBothSessionsHaveTheirTrials()
    {
        var choice = new SingleImageChoice();
        for (var i = 0; i < Runs; i++)
        {
            Assert.Null(choice.EveryThread);
            choice.Record(everyThread: false, 1.0 + i % 3 * 0.01);
            choice.Record(everyThread: true, i % 4 == 0 ? 5.0 : 0.6); // a quarter of outliers does not move the median
        }
        Assert.True(choice.EveryThread);

        choice.Record(everyThread: false, 0.001); // decided: later times change nothing
        Assert.True(choice.EveryThread);
    }

    [Fact]
    public void TheWarmUpRun_DoesNotCount_AndATie_GoesToOneThread()
    {
        var choice = new SingleImageChoice();
        for (var i = 0; i < SingleImageChoice.WarmUps; i++)
        {
            choice.Record(everyThread: false, 100); // first runs: allocation, thread start-up
            choice.Record(everyThread: true, 0.1);
        }
        for (var i = 0; i < SingleImageChoice.Trials; i++)
        {
            choice.Record(everyThread: false, 0.5);
            Assert.Null(choice.EveryThread);
            choice.Record(everyThread: true, 0.5);
        }
        Assert.False(choice.EveryThread);
    }

    [Fact]
    public void Turns_AlternateBetweenTheSessions_UntilDecided_ThenKeepToTheChosenOne()
    {
        var choice = new SingleImageChoice();
        var seen = new List<bool>();
        for (var i = 0; i < 2 * Runs; i++)
        {
            var turn = choice.Begin();
            Assert.NotEqual(0, turn.Started); // timed
            seen.Add(turn.EveryThread);
            choice.End(turn);
        }
        Assert.Equal(Runs, seen.Count(everyThread => everyThread));
        Assert.NotNull(choice.EveryThread);

        for (var i = 0; i < 5; i++)
        {
            var turn = choice.Begin();
            Assert.Equal((choice.EveryThread, 0L), (turn.EveryThread, turn.Started)); // the chosen session, untimed
            choice.End(turn);
        }
    }

    [Fact]
    public void EveryFewThousandImages_TheSessionsAreTimedAgain_TheChoiceServingMeanwhile()
    {
        var choice = new SingleImageChoice();
        for (var i = 0; i < Runs; i++)
        {
            choice.Record(everyThread: false, 1.0);
            choice.Record(everyThread: true, 2.0);
        }
        Assert.False(choice.EveryThread);

        for (var i = 1; i < SingleImageChoice.RecheckEvery; i++) Assert.Equal(0L, choice.Begin().Started);
        var reopened = choice.Begin();
        Assert.NotEqual(0L, reopened.Started); // timed again
        Assert.False(choice.EveryThread); // the last choice holds until the new one is made

        for (var i = 0; i < Runs; i++) // the machine changed: two threads now pay
        {
            choice.Record(everyThread: false, 1.0);
            choice.Record(everyThread: true, 0.5);
        }
        Assert.True(choice.EveryThread);
        Assert.Equal(0L, choice.Begin().Started);
    }
}

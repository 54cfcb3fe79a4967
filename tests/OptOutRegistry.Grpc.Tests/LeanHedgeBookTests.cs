using OptOutRegistry.Benchmarks.Check;

namespace OptOutRegistry.Grpc.Tests;

/// <summary>
/// The lean load generator's hedging bookkeeping (benchmarks/OptOutRegistry.Benchmarks.Check/HedgeBook.cs, compiled in
/// here): every call is answered once, by the first of its attempts to end; the other attempt is the one to cancel;
/// answers after that are dropped and counted as late; the figures count measured calls only.
/// </summary>
public sealed class LeanHedgeBookTests
{
    private const int Primary = 0;
    private const int Hedge = 1;

    [Theory]
    // hedged?, which attempt ends first, expected cancel (-1 none / Primary / Hedge), hedges won, late answers after both end
    [InlineData(false, Primary, -1, 0, 0)]
    [InlineData(true, Primary, Hedge, 0, 1)]
    [InlineData(true, Hedge, Primary, 1, 1)]
    public void FirstAttemptToEnd_AnswersTheCall_TheOtherIsCancelled_ItsLateAnswerDropped(bool hedged, int firstToEnd, int expectedCancel, int expectedWon, int expectedLate)
    {
        // Call 5 of 10 (5 warm-up calls before it): primary on connection 0 slot 3, hedge on connection 1 slot 7.
        var book = new HedgeBook(10, measuredFrom: 5);
        book.OnSent(5, connection: 0, slot: 3);
        if (hedged)
        {
            book.OnHedgeSent(5, connection: 1, slot: 7);
        }

        var (connection, slot) = firstToEnd == Primary ? (0, 3) : (1, 7);
        Assert.True(book.OnAnswer(5, connection, slot, now: 1234, out var cancelConnection, out var cancelSlot));

        Assert.Equal(1234, book.Done[5]);
        Assert.Equal(1, book.Completed);
        Assert.Equal(expectedWon, book.MeasuredHedgesWon);
        Assert.Equal(hedged ? 1 : 0, book.MeasuredHedgesSent);
        Assert.Equal(expectedCancel switch { Primary => (0, 3), Hedge => (1, 7), _ => (-1, -1) }, (cancelConnection, cancelSlot));

        if (hedged)
        {
            // The loser's answer still arrives (sent before our RST reached the server): dropped, the call keeps its first answer.
            var (loserConnection, loserSlot) = firstToEnd == Primary ? (1, 7) : (0, 3);
            Assert.False(book.OnAnswer(5, loserConnection, loserSlot, now: 9999, out _, out _));
            Assert.Equal(1234, book.Done[5]);
            Assert.Equal(1, book.Completed);
        }

        Assert.Equal(expectedLate, book.MeasuredLateAnswers);
    }

    [Fact]
    public void WarmUpCalls_AreAnswered_ButNotCountedInTheHedgeFigures()
    {
        var book = new HedgeBook(10, measuredFrom: 5);
        book.OnSent(2, 0, 1);
        book.OnHedgeSent(2, 1, 1);
        Assert.True(book.OnAnswer(2, 1, 1, 50, out _, out _));
        Assert.False(book.OnAnswer(2, 0, 1, 60, out _, out _));

        Assert.Equal(1, book.Completed);
        Assert.Equal((0, 0, 0), (book.MeasuredHedgesSent, book.MeasuredHedgesWon, book.MeasuredLateAnswers));
    }

    [Fact]
    public void NoSecondHedge_AndNoHedgeForAnAnsweredCall()
    {
        var book = new HedgeBook(4, measuredFrom: 0);
        book.OnSent(0, 0, 0);
        book.OnHedgeSent(0, 1, 0);
        Assert.Throws<InvalidOperationException>(() => book.OnHedgeSent(0, 1, 1));

        book.OnSent(1, 1, 1);
        Assert.True(book.OnAnswer(1, 1, 1, 10, out _, out _));
        Assert.Throws<InvalidOperationException>(() => book.OnHedgeSent(1, 0, 2));
    }

    [Fact]
    public void AnAnswerOnAStreamThatIsNotTheCallsAttempt_IsABug()
    {
        var book = new HedgeBook(4, measuredFrom: 0);
        book.OnSent(3, 0, 2);
        Assert.Throws<InvalidOperationException>(() => book.OnAnswer(3, 0, 9, 10, out _, out _));
        Assert.False(book.IsDone(3));
    }
}

using SecurePlatform.ServiceDefaults.Resilience;

namespace SecurePlatform.ServiceDefaults.Tests;

/// <summary>The one back-off the outbox dispatcher, the audit writer and the admin bootstrapper share.</summary>
public class BackoffRetryTests
{
    [Fact]
    public async Task Retries_what_it_is_told_to_with_growing_delays_capped_at_the_maximum_then_succeeds()
    {
        var delays = new List<TimeSpan>();
        var pipeline = BackoffRetry.Create(TimeSpan.FromMilliseconds(4), TimeSpan.FromMilliseconds(20), ex => ex is TimeoutException,
            (_, attempt, delay) => delays.Add(delay));
        var calls = 0;

        var result = await pipeline.ExecuteAsync(_ => ++calls < 8 ? throw new TimeoutException() : ValueTask.FromResult(calls), CancellationToken.None);

        Assert.Equal(8, result);
        Assert.Equal(7, delays.Count);
        Assert.All(delays, d => Assert.InRange(d, TimeSpan.Zero, TimeSpan.FromMilliseconds(20)));
        Assert.Equal(TimeSpan.FromMilliseconds(20), delays.Max()); // the cap is reached, not passed
    }

    [Fact]
    public async Task A_failure_it_is_not_told_to_retry_propagates_at_once()
    {
        var pipeline = BackoffRetry.Create(TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(5), ex => ex is TimeoutException);
        var calls = 0;

        await Assert.ThrowsAsync<InvalidOperationException>(async () =>
            await pipeline.ExecuteAsync(_ => { calls++; throw new InvalidOperationException(); }, CancellationToken.None));

        Assert.Equal(1, calls);
    }

    [Fact]
    public async Task Gives_up_after_the_retries_it_is_allowed_and_never_retries_the_callers_cancellation()
    {
        var limited = BackoffRetry.Create(TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(2), _ => true, maxRetries: 2);
        var calls = 0;
        await Assert.ThrowsAsync<TimeoutException>(async () =>
            await limited.ExecuteAsync(_ => { calls++; throw new TimeoutException(); }, CancellationToken.None));
        Assert.Equal(3, calls);

        using var stopping = new CancellationTokenSource();
        var forever = BackoffRetry.Create(TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(2), _ => true);
        var cancelledCalls = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await forever.ExecuteAsync(ct =>
        {
            cancelledCalls++;
            stopping.Cancel();
            ct.ThrowIfCancellationRequested();
            return ValueTask.CompletedTask;
        }, stopping.Token));
        Assert.Equal(1, cancelledCalls);
    }
}

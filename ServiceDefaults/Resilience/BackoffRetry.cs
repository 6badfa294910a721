using Polly;
using Polly.Retry;

namespace SecurePlatform.ServiceDefaults.Resilience;

/// <summary>
/// The platform's one back-off for background work that must wait out an outage (outbox dispatch, audit appends,
/// start-up tasks): a Polly retry with exponential, jittered delays from <c>firstDelay</c> up to <c>maxDelay</c>,
/// so replicas do not retry in step. A new <c>ExecuteAsync</c> starts again from the first delay.
/// Cancellation of the caller's token is never retried.
/// </summary>
public static class BackoffRetry
{
    /// <param name="retryOn">Which failures are worth retrying; any other propagates at once.</param>
    /// <param name="onRetry">Called before each wait with the failure, the attempt that failed (1, 2, …) and the delay.</param>
    /// <param name="maxRetries">Retries after the first attempt; by default until cancelled.</param>
    public static ResiliencePipeline Create(
        TimeSpan firstDelay,
        TimeSpan maxDelay,
        Func<Exception, bool> retryOn,
        Action<Exception, int, TimeSpan>? onRetry = null,
        int maxRetries = int.MaxValue,
        TimeProvider? timeProvider = null)
    {
        var builder = new ResiliencePipelineBuilder();
        if (timeProvider is not null)
        {
            builder.TimeProvider = timeProvider;
        }
        return builder.AddRetry(new RetryStrategyOptions
        {
            MaxRetryAttempts = maxRetries,
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            Delay = firstDelay,
            MaxDelay = maxDelay,
            ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is { } ex
                && !(ex is OperationCanceledException && args.Context.CancellationToken.IsCancellationRequested)
                && retryOn(ex)),
            OnRetry = args =>
            {
                onRetry?.Invoke(args.Outcome.Exception!, args.AttemptNumber + 1, args.RetryDelay);
                return default;
            },
        }).Build();
    }
}

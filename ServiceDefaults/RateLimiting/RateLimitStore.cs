using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;
using Polly.CircuitBreaker;
using Polly.Timeout;
using StackExchange.Redis;

namespace SecurePlatform.ServiceDefaults.RateLimiting;

/// <summary>Redis could not be asked for a budget (down, slow, or the circuit is open). A fail-closed policy answers 503.</summary>
public sealed class RateLimitStoreUnavailableException(Exception? inner = null) : Exception("The rate-limit store is unavailable.", inner);

/// <summary>One counter after a hit: requests in the current window and the time left in it.</summary>
public readonly record struct RateLimitCounter(long Count, TimeSpan Remaining);

/// <summary>
/// The budgets of every replica, in Redis. Each call is one Lua script (one round trip, atomic; the window's clock is
/// Redis's, so replicas with skewed clocks still share one window), run through a Polly timeout and circuit
/// breaker: while Redis is away (connection refused or closed) a call fails in microseconds instead of waiting for
/// the client's 5 s command timeout. The timeout (<see cref="RateLimitingOptions.Timeout"/>, 2 s) is generous on
/// purpose: on a busy host a sign-in gets slower, it is not refused.
/// </summary>
public sealed partial class RateLimitStore
{
    // Fixed windows, one key each: INCR, and on the first hit (or a key without TTL) the window's expiry.
    // Returns count and milliseconds left per key. Rejected requests count too, so a client that keeps
    // hammering stays over its limit until the window ends.
    private const string HitScript = """
        local r = {}
        for i, key in ipairs(KEYS) do
          local count = redis.call('INCR', key)
          local ttl = redis.call('PTTL', key)
          if ttl < 0 then
            redis.call('PEXPIRE', key, ARGV[i])
            ttl = tonumber(ARGV[i])
          end
          r[#r + 1] = count
          r[#r + 1] = ttl
        end
        return r
        """;

    // The throttle-event gate: one event per policy and IP per interval (SET NX), and at most ARGV[2] per policy
    // and interval overall. 1 = record it.
    private const string EventGateScript = """
        if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return 0 end
        local n = redis.call('INCR', KEYS[2])
        if n == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[1]) end
        if n > tonumber(ARGV[2]) then return 0 end
        return 1
        """;

    private readonly IConnectionMultiplexer _redis;
    private readonly ILogger<RateLimitStore> _logger;
    private readonly ResiliencePipeline _pipeline;

    public RateLimitStore(IConnectionMultiplexer redis, IOptions<RateLimitingOptions> options, ILogger<RateLimitStore> logger)
    {
        _redis = redis;
        _logger = logger;
        Options = options.Value;
        _pipeline = new ResiliencePipelineBuilder()
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                FailureRatio = 0.5,
                MinimumThroughput = 2,
                SamplingDuration = TimeSpan.FromSeconds(5),
                BreakDuration = Options.BreakDuration,
                // Only "Redis is not there" (refused, closed, not connected) opens the circuit. A timeout is what a
                // saturated host looks like too (the reply waits for a thread); counting it here turned CPU overload
                // into 503 sign-ins for everyone while the circuit was open. A slow call still fails at the timeout.
                ShouldHandle = new PredicateBuilder().Handle<RedisConnectionException>().Handle<System.Net.Sockets.SocketException>(),
            })
            .AddTimeout(Options.Timeout)
            .Build();
    }

    public RateLimitingOptions Options { get; }

    /// <summary>The Redis key of one budget: <c>{prefix}{policy}:{partition}</c>.</summary>
    public RedisKey Key(string policy, string partition) => Options.KeyPrefix + policy + ":" + partition;

    /// <summary>Counts one request against each (policy, partition) and returns each counter.</summary>
    public async ValueTask<RateLimitCounter[]> HitAsync(IReadOnlyList<(string Policy, string Partition)> budgets, CancellationToken cancellationToken)
    {
        var keys = new RedisKey[budgets.Count];
        var windows = new RedisValue[budgets.Count];
        for (var i = 0; i < budgets.Count; i++)
        {
            keys[i] = Key(budgets[i].Policy, budgets[i].Partition);
            windows[i] = (long)Options.Policy(budgets[i].Policy).Window.TotalMilliseconds;
        }
        var result = (RedisResult[])(await EvaluateAsync(HitScript, keys, windows, cancellationToken))!;
        var counters = new RateLimitCounter[budgets.Count];
        for (var i = 0; i < counters.Length; i++)
        {
            counters[i] = new RateLimitCounter((long)result[2 * i], TimeSpan.FromMilliseconds((long)result[2 * i + 1]));
        }
        return counters;
    }

    /// <summary>True when a <c>RequestThrottled</c> event for this policy and IP should be recorded now (see the options).</summary>
    public async ValueTask<bool> ShouldRecordEventAsync(string policy, string partition, string service, CancellationToken cancellationToken)
    {
        var interval = ((long)Options.EventInterval.TotalMilliseconds).ToString(CultureInfo.InvariantCulture);
        var result = await EvaluateAsync(
            EventGateScript,
            [Key("event:" + policy, partition), Key("events:" + policy, service)],
            [interval, Options.MaxEventsPerInterval],
            cancellationToken);
        return (long)result == 1;
    }

    /// <summary>Runs a script within the timeout and circuit; any Redis failure is <see cref="RateLimitStoreUnavailableException"/>.</summary>
    public async ValueTask<RedisResult> EvaluateAsync(string script, RedisKey[] keys, RedisValue[] values, CancellationToken cancellationToken)
    {
        try
        {
            return await _pipeline.ExecuteAsync(static async (state, token) =>
            {
                // A disconnected multiplexer would queue the command until its own timeout: fail now instead.
                if (!state.Redis.IsConnected)
                {
                    throw new RedisConnectionException(ConnectionFailureType.UnableToConnect, "not connected");
                }
                return await state.Redis.GetDatabase().ScriptEvaluateAsync(state.Script, state.Keys, state.Values).WaitAsync(token);
            }, (Redis: _redis, Script: script, Keys: keys, Values: values), cancellationToken);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or TimeoutRejectedException or BrokenCircuitException)
        {
            if (ex is not BrokenCircuitException)
            {
                LogUnavailable(ex.GetType().Name);
            }
            throw new RateLimitStoreUnavailableException(ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Rate-limit store unavailable ({ExceptionType}); fail-closed policies answer 503")]
    private partial void LogUnavailable(string exceptionType);
}

using System.Collections.Concurrent;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;
using Polly.CircuitBreaker;
using Polly.Timeout;
using StackExchange.Redis;

namespace SecurePlatform.ServiceDefaults.Auth;

/// <summary>What the revocation store says about a session: still valid, revoked, or "could not ask".</summary>
public enum RevocationState
{
    Active,
    Revoked,

    /// <summary>The store could not be asked within its budget (Redis down, slow, or the circuit is open). Not "revoked".</summary>
    Unknown,
}

public interface ISessionRevocationCheck
{
    /// <summary>Asks the store; never throws for an unreachable store (that is <see cref="RevocationState.Unknown"/>).</summary>
    ValueTask<RevocationState> CheckAsync(string sid, string sub, CancellationToken cancellationToken);

    /// <summary>
    /// Whether the signing key <paramref name="kid"/> was revoked. Answered from memory while the revocation channel
    /// is live (the list is loaded at start and after every reconnect, and each revocation arrives as a message);
    /// otherwise Redis is asked. Never throws for an unreachable store.
    /// </summary>
    ValueTask<RevocationState> CheckSigningKeyAsync(string kid, CancellationToken cancellationToken);

    /// <summary>
    /// False when the store is known to be unreachable right now (disconnected, or the circuit is open): a
    /// token issued now could not be checked. Costs nothing (no round trip).
    /// </summary>
    bool IsAvailable { get; }

    /// <summary>
    /// True when the session (or all of its user's sessions) has been revoked. When the store cannot be asked:
    /// false with <c>FailOpen</c>, otherwise <see cref="RevocationStoreUnavailableException"/> (answered 503).
    /// </summary>
    ValueTask<bool> IsRevokedAsync(string sid, string sub, CancellationToken cancellationToken);
}

/// <summary>The revocation store could not be asked and the check fails closed: the request is answered 503, not 401.</summary>
public sealed class RevocationStoreUnavailableException() : Exception("The revocation store is unavailable.");

public sealed class RevocationOptions
{
    /// <summary>Off only for benchmarks that measure what the check costs.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>When Redis cannot be asked: false (default) refuses the request with 503, true lets the token through.</summary>
    public bool FailOpen { get; set; }

    public int MaxCachedSessions { get; set; } = 100_000;

    /// <summary>How long one check may wait for Redis before it counts as a failure.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>How long the circuit stays open (every check answered at once, without Redis) before one trial.</summary>
    public TimeSpan BreakDuration { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Trust Redis only while it carries token-service's <see cref="SessionRevocation.CompleteKey"/> (default).
    /// Off only where no token-service shares the Redis (a service's tests on their own).
    /// </summary>
    public bool RequireCompleteMarker { get; set; } = true;

    /// <summary>What a 503 tells the client to wait (<c>Retry-After</c>).</summary>
    public TimeSpan RetryAfter { get; set; } = TimeSpan.FromSeconds(2);

    public static IEnumerable<string> Validate(RevocationOptions o) => OptionsRule.Failures(
        OptionsRule.AtLeast(o.MaxCachedSessions, 0, "Auth:Revocation:MaxCachedSessions"),
        OptionsRule.Positive(o.Timeout, "Auth:Revocation:Timeout"),
        OptionsRule.Positive(o.BreakDuration, "Auth:Revocation:BreakDuration"),
        OptionsRule.Positive(o.RetryAfter, "Auth:Revocation:RetryAfter"));
}

/// <summary>
/// Answers the revocation check without a Redis round trip for sessions already seen clean, and keeps that
/// answer right by listening to the revocation channel. The cache is only trusted while the subscription is
/// live: on a disconnect (messages may be lost) it is dropped and every check asks Redis again until the
/// subscription is back. An epoch guards the race between a Redis read and a message arriving meanwhile.
/// Redis is asked through a Polly pipeline: a timeout per call and a circuit breaker, so while Redis is away
/// a check answers <see cref="RevocationState.Unknown"/> in microseconds instead of waiting for the client's
/// 5 s command timeout.
/// </summary>
public sealed partial class RevocationCache : ISessionRevocationCheck, IHostedService
{
    private static readonly ResiliencePropertyKey<(string Sid, string Sub, long RequiredCompleteMs)> SessionKey = new("session");
    private static readonly ResiliencePropertyKey<string> SigningKeyId = new("kid");

    private readonly ConcurrentDictionary<string, string> _cleanSessions = new(StringComparer.Ordinal); // sid -> sub
    private readonly ConcurrentDictionary<string, byte> _revokedSigningKeys = new(StringComparer.Ordinal);
    private volatile bool _signingKeysLoaded; // the whole list was read while subscribed: absence means "not revoked"

    /// <summary>Raised when a revocation message names a signing key (its replacement is in JWKS already).</summary>
    public event Action? SigningKeyRevoked;
    private readonly IConnectionMultiplexer _redis;
    private readonly RevocationOptions _options;
    private readonly ILogger<RevocationCache> _logger;
    private readonly ResiliencePipeline<RevocationState> _pipeline;
    private readonly CircuitBreakerStateProvider _circuit = new();
    private readonly CircuitBreakerManualControl _control = new();
    private long _openUntilTicks; // when an open circuit would let its next trial through

    // How recent token-service's "complete" marker must be: after this service lost Redis at time T, a revocation
    // made meanwhile may not be in Redis yet, so only a marker written after T (a replay or token-service's
    // heartbeat, which stops while it has revocations Redis lacks) makes "no key" mean "not revoked" again.
    private long _requiredCompleteMs;
    private long _epoch;
    private volatile bool _trusted;

    public RevocationCache(IConnectionMultiplexer redis, IOptions<RevocationOptions> options, ILogger<RevocationCache> logger)
    {
        _redis = redis;
        _options = options.Value;
        _logger = logger;
        _pipeline = new ResiliencePipelineBuilder<RevocationState>()
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions<RevocationState>
            {
                FailureRatio = 0.5,
                MinimumThroughput = 2,
                SamplingDuration = TimeSpan.FromSeconds(5),
                BreakDuration = _options.BreakDuration,
                StateProvider = _circuit,
                ManualControl = _control,
                ShouldHandle = new PredicateBuilder<RevocationState>().Handle<RedisException>().Handle<TimeoutException>().Handle<TimeoutRejectedException>(),
                OnOpened = args =>
                {
                    Interlocked.Exchange(ref _openUntilTicks, (DateTimeOffset.UtcNow + args.BreakDuration).UtcTicks);
                    LogCircuitOpened(args.BreakDuration.TotalMilliseconds);
                    return default;
                },
                OnClosed = _ => { LogCircuitClosed(); return default; },
            })
            .AddTimeout(_options.Timeout)
            .Build();
    }

    /// <summary>
    /// An open circuit only turns half-open when a check runs; a service that issues tokens without checking any
    /// (token-service at sign-in) must not wait for one, so an open circuit past its break counts as available.
    /// </summary>
    public bool IsAvailable => _redis.IsConnected && _circuit.CircuitState switch
    {
        CircuitState.Closed or CircuitState.HalfOpen => true,
        CircuitState.Open => DateTimeOffset.UtcNow.UtcTicks >= Interlocked.Read(ref _openUntilTicks),
        _ => false,
    };

    public async ValueTask<bool> IsRevokedAsync(string sid, string sub, CancellationToken cancellationToken) =>
        await CheckAsync(sid, sub, cancellationToken) switch
        {
            RevocationState.Revoked => true,
            RevocationState.Active => false,
            _ => _options.FailOpen ? false : throw new RevocationStoreUnavailableException(),
        };

    public async ValueTask<RevocationState> CheckAsync(string sid, string sub, CancellationToken cancellationToken)
    {
        if (_trusted && _cleanSessions.TryGetValue(sid, out var cachedSub) && cachedSub == sub)
        {
            return RevocationState.Active;
        }
        var epoch = Interlocked.Read(ref _epoch);
        RevocationState state;
        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        try
        {
            context.Properties.Set(SessionKey, (sid, sub, _options.RequireCompleteMarker ? Interlocked.Read(ref _requiredCompleteMs) : -1));
            state = await _pipeline.ExecuteAsync(static async (ctx, redis) =>
            {
                // A disconnected multiplexer would queue the command until its 5 s timeout: fail now instead.
                if (!redis.IsConnected)
                {
                    throw new RedisConnectionException(ConnectionFailureType.UnableToConnect, "not connected");
                }
                var (sid, sub, requiredCompleteMs) = ctx.Properties.GetValue(SessionKey, default);
                var values = await redis.GetDatabase().StringGetAsync([SessionRevocation.SidKey(sid), SessionRevocation.SubKey(sub), SessionRevocation.CompleteKey])
                    .WaitAsync(ctx.CancellationToken);
                long? subRevokedAt = values[1].HasValue && long.TryParse(values[1].ToString(), out var ms) ? ms : null;
                if (SessionRevocation.IsRevoked(values[0].HasValue, subRevokedAt, SessionRevocation.SessionCreatedMs(sid)))
                {
                    return RevocationState.Revoked;
                }
                // Redis answers, but may lack revocations (it restarted empty, or this service was cut off while
                // revocations were made) and token-service has not confirmed it holds them all again.
                if (requiredCompleteMs >= 0 && !(values[2].HasValue && long.TryParse(values[2].ToString(), out var completeMs) && completeMs >= requiredCompleteMs))
                {
                    return RevocationState.Unknown;
                }
                return RevocationState.Active;
            }, context, _redis);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or TimeoutRejectedException or BrokenCircuitException)
        {
            if (ex is not BrokenCircuitException)
            {
                LogRedisUnavailable(ex.GetType().Name, _options.FailOpen);
            }
            return RevocationState.Unknown;
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
        if (state == RevocationState.Active && _trusted && Interlocked.Read(ref _epoch) == epoch)
        {
            if (_cleanSessions.Count >= _options.MaxCachedSessions)
            {
                _cleanSessions.Clear();
            }
            _cleanSessions[sid] = sub;
        }
        return state;
    }

    public async ValueTask<RevocationState> CheckSigningKeyAsync(string kid, CancellationToken cancellationToken)
    {
        if (_revokedSigningKeys.ContainsKey(kid))
        {
            return RevocationState.Revoked;
        }
        if (_trusted && _signingKeysLoaded)
        {
            return RevocationState.Active;
        }
        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        try
        {
            context.Properties.Set(SigningKeyId, kid);
            var state = await _pipeline.ExecuteAsync(static async (ctx, redis) =>
            {
                if (!redis.IsConnected)
                {
                    throw new RedisConnectionException(ConnectionFailureType.UnableToConnect, "not connected");
                }
                var revoked = await redis.GetDatabase().SetContainsAsync(SessionRevocation.SigningKeysKey, ctx.Properties.GetValue(SigningKeyId, ""))
                    .WaitAsync(ctx.CancellationToken);
                return revoked ? RevocationState.Revoked : RevocationState.Active;
            }, context, _redis);
            if (state == RevocationState.Revoked)
            {
                _revokedSigningKeys.TryAdd(kid, 0);
            }
            return state;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or TimeoutRejectedException or BrokenCircuitException)
        {
            return RevocationState.Unknown;
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    private async Task TrustAgainAsync()
    {
        await Task.Delay(TimeSpan.FromSeconds(1));
        if (_redis.IsConnected)
        {
            await LoadSigningKeysAsync(); // a key revoked while this service was cut off
            _trusted = true;
        }
    }

    /// <summary>Reads the whole revoked-key list; only then does a key missing from memory mean "not revoked".</summary>
    private async Task LoadSigningKeysAsync()
    {
        try
        {
            foreach (var kid in await _redis.GetDatabase().SetMembersAsync(SessionRevocation.SigningKeysKey))
            {
                _revokedSigningKeys.TryAdd(kid.ToString(), 0);
            }
            _signingKeysLoaded = _redis.IsConnected;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            LogRedisUnavailable(ex.GetType().Name, _options.FailOpen);
        }
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _redis.ConnectionFailed += (_, _) =>
        {
            Interlocked.Exchange(ref _requiredCompleteMs, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            Distrust();
        };
        _redis.ConnectionRestored += (_, _) =>
        {
            Distrust();
            // Redis is back: ask it on the next check instead of waiting out the break.
            _ = _control.CloseAsync(CancellationToken.None);
            // Re-subscription follows the restore; trust the cache again once that has had time to happen.
            _ = TrustAgainAsync();
        };
        try
        {
            var channel = await _redis.GetSubscriber().SubscribeAsync(RedisChannel.Literal(SessionRevocation.Channel));
            channel.OnMessage(message => Apply(message.Message.ToString()));
            await LoadSigningKeysAsync(); // after subscribing: a revocation in between arrives as a message
            _trusted = _redis.IsConnected;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            // Redis down at start: every check asks Redis (and fails closed) until the subscription comes up.
            LogRedisUnavailable(ex.GetType().Name, _options.FailOpen);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    internal void Apply(string message)
    {
        Interlocked.Increment(ref _epoch);
        if (message.StartsWith("kid:", StringComparison.Ordinal))
        {
            _revokedSigningKeys.TryAdd(message[4..], 0);
            SigningKeyRevoked?.Invoke();
        }
        else if (message.StartsWith("sid:", StringComparison.Ordinal))
        {
            _cleanSessions.TryRemove(message[4..], out _);
        }
        else if (message.StartsWith("sub:", StringComparison.Ordinal))
        {
            var sub = message[(message.IndexOf(':', 4) + 1)..];
            foreach (var (sid, owner) in _cleanSessions)
            {
                if (owner == sub)
                {
                    _cleanSessions.TryRemove(sid, out _);
                }
            }
        }
    }

    private void Distrust()
    {
        _trusted = false;
        _signingKeysLoaded = false; // messages may have been lost: reloaded once Redis is back
        Interlocked.Increment(ref _epoch);
        _cleanSessions.Clear();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Revocation check could not reach Redis ({ErrorType}); fail-open={FailOpen}")]
    private partial void LogRedisUnavailable(string errorType, bool failOpen);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Revocation store circuit opened for {BreakMs} ms: checks answer 'unknown' at once")]
    private partial void LogCircuitOpened(double breakMs);

    [LoggerMessage(Level = LogLevel.Information, Message = "Revocation store circuit closed")]
    private partial void LogCircuitClosed();
}

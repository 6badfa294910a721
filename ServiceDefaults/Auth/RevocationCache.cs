using System.Collections.Concurrent;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace SecurePlatform.ServiceDefaults.Auth;

public interface ISessionRevocationCheck
{
    /// <summary>True when the session (or all of its user's sessions) has been revoked.</summary>
    ValueTask<bool> IsRevokedAsync(string sid, string sub, CancellationToken cancellationToken);
}

public sealed class RevocationOptions
{
    /// <summary>Off only for benchmarks that measure what the check costs.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>When Redis cannot be asked: false (default) refuses the token, true lets it through.</summary>
    public bool FailOpen { get; set; }

    public int MaxCachedSessions { get; set; } = 100_000;

    public static IEnumerable<string> Validate(RevocationOptions o) => OptionsRule.Failures(
        OptionsRule.AtLeast(o.MaxCachedSessions, 0, "Auth:Revocation:MaxCachedSessions"));
}

/// <summary>
/// Answers the revocation check without a Redis round trip for sessions already seen clean, and keeps that
/// answer right by listening to the revocation channel. The cache is only trusted while the subscription is
/// live: on a disconnect (messages may be lost) it is dropped and every check asks Redis again until the
/// subscription is back. An epoch guards the race between a Redis read and a message arriving meanwhile.
/// </summary>
public sealed partial class RevocationCache(
    IConnectionMultiplexer redis,
    IOptions<RevocationOptions> options,
    ILogger<RevocationCache> logger) : ISessionRevocationCheck, IHostedService
{
    private readonly ConcurrentDictionary<string, string> _cleanSessions = new(StringComparer.Ordinal); // sid -> sub
    private long _epoch;
    private volatile bool _trusted;

    public async ValueTask<bool> IsRevokedAsync(string sid, string sub, CancellationToken cancellationToken)
    {
        if (_trusted && _cleanSessions.TryGetValue(sid, out var cachedSub) && cachedSub == sub)
        {
            return false;
        }
        var epoch = Interlocked.Read(ref _epoch);
        bool revoked;
        try
        {
            var values = await redis.GetDatabase().StringGetAsync([SessionRevocation.SidKey(sid), SessionRevocation.SubKey(sub)]);
            long? subRevokedAt = values[1].HasValue && long.TryParse(values[1].ToString(), out var ms) ? ms : null;
            revoked = SessionRevocation.IsRevoked(values[0].HasValue, subRevokedAt, SessionRevocation.SessionCreatedMs(sid));
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            LogRedisUnavailable(ex.GetType().Name, options.Value.FailOpen);
            return !options.Value.FailOpen;
        }
        if (!revoked && _trusted && Interlocked.Read(ref _epoch) == epoch)
        {
            if (_cleanSessions.Count >= options.Value.MaxCachedSessions)
            {
                _cleanSessions.Clear();
            }
            _cleanSessions[sid] = sub;
        }
        return revoked;
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        redis.ConnectionFailed += (_, _) => Distrust();
        redis.ConnectionRestored += (_, _) =>
        {
            Distrust();
            // Re-subscription follows the restore; trust the cache again once that has had time to happen.
            _ = Task.Delay(TimeSpan.FromSeconds(1)).ContinueWith(_ => { if (redis.IsConnected) { _trusted = true; } }, TaskScheduler.Default);
        };
        try
        {
            var channel = await redis.GetSubscriber().SubscribeAsync(RedisChannel.Literal(SessionRevocation.Channel));
            channel.OnMessage(message => Apply(message.Message.ToString()));
            _trusted = redis.IsConnected;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            // Redis down at start: every check asks Redis (and fails closed) until the subscription comes up.
            LogRedisUnavailable(ex.GetType().Name, options.Value.FailOpen);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    internal void Apply(string message)
    {
        Interlocked.Increment(ref _epoch);
        if (message.StartsWith("sid:", StringComparison.Ordinal))
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
        Interlocked.Increment(ref _epoch);
        _cleanSessions.Clear();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Revocation check could not reach Redis ({ErrorType}); fail-open={FailOpen}")]
    private partial void LogRedisUnavailable(string errorType, bool failOpen);
}

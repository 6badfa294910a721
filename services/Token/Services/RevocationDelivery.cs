using System.Collections.Concurrent;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using SecurePlatform.ServiceDefaults.Auth;
using SecurePlatform.ServiceDefaults.Health;
using SecurePlatform.Token.Infrastructure;
using SecurePlatform.Token.Model;
using StackExchange.Redis;

namespace SecurePlatform.Token.Services;

/// <summary>
/// Gets revocations from tokendb (the truth, committed before any sign-out is answered) into Redis (where
/// every service's check reads them), whatever Redis is doing. The request path tries one write within a short
/// budget; when that fails — or Redis reconnects (it may have restarted empty), or token-service starts (it may
/// have crashed between commit and write) — the whole record is replayed: every session revoked within the key
/// lifetime and every revoked signing key, from tokendb, each key with what is left of its lifetime, retried every 250 ms until it lands.
/// The sessions table is the outbox: a replay is idempotent, so nothing needs marking as sent.
/// </summary>
public sealed partial class RevocationDelivery(
    IServiceScopeFactory scopes,
    SessionRevocationWriter writer,
    IConnectionMultiplexer redis,
    IOptions<TokenOptions> options,
    TimeProvider clock,
    ILogger<RevocationDelivery> logger) : BackgroundService, IHealthCheck
{
    /// <summary>How long a request waits for its own Redis write before it leaves it to the replay.</summary>
    public static readonly TimeSpan WriteBudget = TimeSpan.FromMilliseconds(500);

    private static readonly TimeSpan RetryInterval = TimeSpan.FromMilliseconds(250);

    /// <summary>How often the "complete as of" marker moves forward while nothing is pending.</summary>
    private static readonly TimeSpan HeartbeatInterval = TimeSpan.FromSeconds(1);

    private readonly SemaphoreSlim _signal = new(0);

    // Sub-wide revocations ("all sessions of a user, also one being opened right now") that have not landed.
    // Their sessions are in tokendb by sid; only the subject key's guard for a concurrent sign-in lives here.
    private readonly ConcurrentDictionary<string, long> _subjects = new(StringComparer.Ordinal);
    private int _pending = 1; // replay once at start

    /// <summary>True while revocations are committed in tokendb that Redis may not have yet.</summary>
    public bool Pending => Volatile.Read(ref _pending) == 1;

    public async Task DeliverSessionsAsync(IReadOnlyCollection<string> sids)
    {
        if (sids.Count == 0)
        {
            return;
        }
        if (Pending || !redis.IsConnected)
        {
            MarkPending(); // the replay reads tokendb after this commit, so it carries these too
            return;
        }
        try
        {
            await writer.RevokeSessionsAsync(sids, options.Value.RevocationKeyLifetime).WaitAsync(WriteBudget);
        }
        catch (Exception ex) when (DependencyOutage.IsOutage(ex) || ex is RedisException or TimeoutException)
        {
            LogWriteFailed(ex.GetType().Name);
            MarkPending();
        }
    }

    public async Task DeliverSubjectAsync(string sub, IReadOnlyCollection<string> sids, long revokedAtMs)
    {
        if (Pending || !redis.IsConnected)
        {
            QueueSubject(sub, revokedAtMs);
            return;
        }
        try
        {
            await writer.RevokeSubjectAsync(sub, sids, revokedAtMs, options.Value.RevocationKeyLifetime).WaitAsync(WriteBudget);
        }
        catch (Exception ex) when (DependencyOutage.IsOutage(ex) || ex is RedisException or TimeoutException)
        {
            LogWriteFailed(ex.GetType().Name);
            QueueSubject(sub, revokedAtMs);
        }
    }

    /// <summary>Puts a revoked signing key into Redis (committed in tokendb first); on failure the replay carries it.</summary>
    public async Task DeliverSigningKeyAsync(string kid)
    {
        if (Pending || !redis.IsConnected)
        {
            MarkPending();
            return;
        }
        try
        {
            await writer.RevokeSigningKeyAsync(kid).WaitAsync(WriteBudget);
        }
        catch (Exception ex) when (DependencyOutage.IsOutage(ex) || ex is RedisException or TimeoutException)
        {
            LogWriteFailed(ex.GetType().Name);
            MarkPending();
        }
    }

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(Pending ? HealthCheckResult.Degraded("revocations not yet in Redis") : HealthCheckResult.Healthy());

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Redis may come back empty (no persistence, a fail-over): put every live revocation back.
        redis.ConnectionRestored += (_, _) => MarkPending();
        while (!stoppingToken.IsCancellationRequested)
        {
            if (Pending && redis.IsConnected)
            {
                Interlocked.Exchange(ref _pending, 0);
                try
                {
                    var (sessions, subjects) = await ReplayAsync(stoppingToken);
                    LogReplayed(sessions, subjects);
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    LogReplayFailed(ex.GetType().Name);
                    Interlocked.Exchange(ref _pending, 1);
                }
            }
            else if (!Pending && redis.IsConnected)
            {
                await HeartbeatAsync();
            }
            try
            {
                await _signal.WaitAsync(Pending ? RetryInterval : HeartbeatInterval, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>
    /// Nothing pending: every revocation committed more than a write budget ago is in Redis (a slower write would
    /// have failed and made one pending), so the marker may say so.
    /// </summary>
    private async Task HeartbeatAsync()
    {
        var asOf = clock.GetUtcNow() - WriteBudget;
        try
        {
            await writer.MarkCompleteAsync(asOf.ToUnixTimeMilliseconds()).WaitAsync(WriteBudget);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            // Redis is going away; its return triggers a replay, which writes the marker.
        }
    }

    private async Task<(int Sessions, int Subjects)> ReplayAsync(CancellationToken cancellationToken)
    {
        var lifetime = options.Value.RevocationKeyLifetime;
        var subjects = _subjects.ToArray(); // taken before tokendb is read: a later one marks pending again
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TokenDbContext>();
        var now = clock.GetUtcNow(); // before tokendb is read: everything committed before it is in the replay
        var since = now - lifetime;
        var revoked = await db.Sessions.AsNoTracking()
            .Where(s => s.RevokedAt > since)
            .Select(s => new { s.Id, s.RevokedAt })
            .ToListAsync(cancellationToken);
        var revokedKeys = await db.SigningKeys.AsNoTracking().Where(k => k.RevokedAt != null).Select(k => k.Id).ToListAsync(cancellationToken);
        var nowMs = now.ToUnixTimeMilliseconds();
        var sessionKeys = revoked.Select(s => (s.Id.ToString(), Remaining(lifetime - (now - s.RevokedAt!.Value)))).ToList();
        var subjectKeys = subjects.Select(s => (s.Key, s.Value, Remaining(lifetime - TimeSpan.FromMilliseconds(nowMs - s.Value)))).ToList();
        await writer.RestoreAsync(sessionKeys, subjectKeys, revokedKeys, nowMs).WaitAsync(TimeSpan.FromSeconds(10), cancellationToken);
        foreach (var (sub, ms) in subjects)
        {
            _subjects.TryRemove(new KeyValuePair<string, long>(sub, ms));
        }
        return (sessionKeys.Count, subjectKeys.Count);
    }

    private static TimeSpan Remaining(TimeSpan left) => left > TimeSpan.FromSeconds(1) ? left : TimeSpan.FromSeconds(1);

    private void QueueSubject(string sub, long revokedAtMs)
    {
        _subjects.AddOrUpdate(sub, revokedAtMs, (_, existing) => Math.Max(existing, revokedAtMs));
        MarkPending();
    }

    private void MarkPending()
    {
        Interlocked.Exchange(ref _pending, 1);
        if (_signal.CurrentCount == 0)
        {
            _signal.Release();
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Revocation not written to Redis ({ErrorType}); committed in tokendb, replaying until it lands")]
    private partial void LogWriteFailed(string errorType);

    [LoggerMessage(Level = LogLevel.Information, Message = "Revocations replayed to Redis: {Sessions} sessions, {Subjects} subjects")]
    private partial void LogReplayed(int sessions, int subjects);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Revocation replay failed ({ErrorType}); retrying")]
    private partial void LogReplayFailed(string errorType);
}

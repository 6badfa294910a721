using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using SecurePlatform.Contracts;
using SecurePlatform.ServiceDefaults.Auth;
using SecurePlatform.ServiceDefaults.Messaging;
using SecurePlatform.Token.Infrastructure;
using SecurePlatform.Token.Model;

namespace SecurePlatform.Token.Services;

/// <summary>
/// token-service owns sessions: opens them at sign-in, rotates their refresh token (detecting reuse),
/// lists and revokes them. Every revocation is committed in tokendb first, then written to Redis where every
/// service's revocation check reads it.
/// </summary>
public sealed class SessionService(
    TokenDbContext db,
    SessionRevocationWriter revocations,
    OutboxSignal outboxSignal,
    IOptions<TokenOptions> options,
    TimeProvider clock)
{
    public const string SourceService = "token-service";
    private readonly TokenOptions _options = options.Value;

    public async Task<Session> OpenAsync(
        string subject, string clientId, string[] amr, string[] roles, string? ip, string? userAgent, HttpContext http, string actor, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        var session = new Session
        {
            Id = Guid.CreateVersion7(now), // the sid carries its creation millisecond (sub-wide revocation compares it)
            Subject = subject,
            ClientId = clientId,
            Amr = amr,
            Roles = roles,
            CreatedAt = now,
            LastUsedAt = now,
            ExpiresAt = now + _options.SessionAbsoluteLifetime,
            IpAddress = ip,
            UserAgent = EventStamping.Truncate(userAgent),
            RefreshTokenId = Guid.NewGuid(),
        };
        db.Sessions.Add(session);
        db.AddIntegrationEvent(new SessionCreated { SessionId = session.Id.ToString(), ClientId = clientId, Amr = amr, IpAddress = ip, UserAgent = session.UserAgent }
            .Stamp(SourceService, http, actor, subject));
        await db.SaveChangesAsync(cancellationToken);
        return session;
    }

    /// <summary>
    /// Redeems refresh token <paramref name="presented"/> of session <paramref name="sid"/> for <paramref name="next"/>.
    /// The happy path is one statement: rotate the session row and queue TokenRefreshed in the outbox
    /// atomically. Otherwise the session is looked at: a token of the family that is no longer current is
    /// a replay, and revokes the whole session.
    /// </summary>
    public async Task<RefreshDecision> RotateAsync(Guid sid, Guid presented, Guid next, string subject, string clientId, HttpContext http, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        var ip = EventStamping.ClientAddress(http);
        var userAgent = EventStamping.UserAgent(http);
        var outbox = OutboxMessage.From(new TokenRefreshed { SessionId = sid.ToString(), ClientId = clientId }.Stamp(SourceService, http, clientId, subject));
        var idleCutoff = now - _options.SessionIdleTimeout;
        var leewayCutoff = now - _options.RefreshTokenReuseLeeway;
        var rotated = await db.Database.ExecuteSqlAsync($"""
            WITH rotated AS (
                UPDATE sessions
                   SET previous_refresh_token_id = refresh_token_id, refresh_token_id = {next}, rotated_at = {now},
                       last_used_at = {now}, ip_address = {ip}, user_agent = {userAgent}
                 WHERE id = {sid} AND revoked_at IS NULL AND expires_at > {now} AND last_used_at > {idleCutoff}
                   AND (refresh_token_id = {presented} OR (previous_refresh_token_id = {presented} AND rotated_at > {leewayCutoff}))
                RETURNING id)
            INSERT INTO outbox_messages (event_id, type, payload, occurred_at, trace_parent, attempts)
            SELECT {outbox.EventId}, {outbox.Type}, CAST({outbox.Payload} AS jsonb), {outbox.OccurredAt}, {outbox.TraceParent}, 0 FROM rotated
            """, cancellationToken);
        if (rotated == 1)
        {
            outboxSignal.Notify();
            return RefreshDecision.Rotate;
        }

        var session = await db.Sessions.FirstOrDefaultAsync(s => s.Id == sid, cancellationToken);
        if (session is null)
        {
            return RefreshDecision.Refuse;
        }
        var decision = SessionPolicy.Decide(session, presented, now, _options.SessionIdleTimeout, _options.RefreshTokenReuseLeeway);
        if (decision == RefreshDecision.ReuseDetected)
        {
            db.AddIntegrationEvent(new RefreshTokenReuseDetected { SessionId = sid.ToString(), ClientId = clientId }.Stamp(SourceService, http, clientId, session.Subject));
            await RevokeTrackedAsync(session, RevocationReasons.RefreshTokenReuse, http, clientId, cancellationToken);
        }
        return decision == RefreshDecision.Rotate ? RefreshDecision.Refuse : decision; // a lost race is a refusal
    }

    /// <summary>Revokes one session; when <paramref name="owner"/> is given, only if it is that user's.</summary>
    public async Task<bool> RevokeAsync(Guid sid, string reason, string? owner, HttpContext? http, string actor, CancellationToken cancellationToken)
    {
        var session = await db.Sessions.FirstOrDefaultAsync(s => s.Id == sid, cancellationToken);
        if (session is null || (owner is not null && session.Subject != owner))
        {
            return false;
        }
        await RevokeTrackedAsync(session, reason, http, actor, cancellationToken);
        return true;
    }

    /// <summary>Revokes every session of <paramref name="subject"/> except <paramref name="keep"/>; returns how many.</summary>
    public async Task<int> RevokeAllAsync(string subject, string reason, Guid? keep, HttpContext? http, string actor, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        var sessions = await db.Sessions.Where(s => s.Subject == subject && s.RevokedAt == null && s.Id != keep).ToListAsync(cancellationToken);
        foreach (var session in sessions)
        {
            session.RevokedAt = now;
            session.RevokedReason = reason;
        }
        if (sessions.Count > 0)
        {
            db.AddIntegrationEvent(new AllSessionsRevoked { Count = sessions.Count, Reason = reason, KeptSessionId = keep?.ToString() }.Stamp(SourceService, http, actor, subject));
            await db.SaveChangesAsync(cancellationToken);
        }

        var sids = sessions.Select(s => s.Id.ToString()).ToList();
        if (keep is null)
        {
            // Also covers a session being opened right now, which the list above cannot see yet.
            await revocations.RevokeSubjectAsync(subject, sids, now.ToUnixTimeMilliseconds(), _options.RevocationKeyLifetime);
        }
        else
        {
            await revocations.RevokeSessionsAsync(sids, _options.RevocationKeyLifetime);
        }
        return sessions.Count;
    }

    public Task<List<Session>> ListActiveAsync(string subject, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        var idleCutoff = now - _options.SessionIdleTimeout;
        return db.Sessions.AsNoTracking()
            .Where(s => s.Subject == subject && s.RevokedAt == null && s.ExpiresAt > now && s.LastUsedAt > idleCutoff)
            .OrderByDescending(s => s.LastUsedAt)
            .ToListAsync(cancellationToken);
    }

    private async Task RevokeTrackedAsync(Session session, string reason, HttpContext? http, string actor, CancellationToken cancellationToken)
    {
        if (session.RevokedAt is null)
        {
            session.RevokedAt = clock.GetUtcNow();
            session.RevokedReason = reason;
            db.AddIntegrationEvent(new SessionRevoked { SessionId = session.Id.ToString(), Reason = reason }.Stamp(SourceService, http, actor, session.Subject));
        }
        await db.SaveChangesAsync(cancellationToken);
        // Written even when tokendb already had it revoked: a retry after a Redis failure must still land.
        await revocations.RevokeSessionsAsync([session.Id.ToString()], _options.RevocationKeyLifetime);
    }
}

using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Npgsql;
using SecurePlatform.Contracts;
using SecurePlatform.ServiceDefaults.Auth;
using SecurePlatform.Messaging;
using SecurePlatform.Token.Infrastructure;
using SecurePlatform.Token.Model;

namespace SecurePlatform.Token.Services;

/// <summary>
/// token-service owns sessions: opens them at sign-in, rotates their refresh token (detecting reuse),
/// lists and revokes them. Every revocation is committed in tokendb first — that commit is what the caller's
/// answer stands on, and it kills the refresh token at once — then handed to <see cref="RevocationDelivery"/>,
/// which gets it into Redis (where every service's check reads it) now or, if Redis is away, as soon as it returns.
/// </summary>
public sealed class SessionService(
    TokenDbContext db,
    RevocationDelivery revocations,
    BackchannelLogoutDelivery backchannelLogouts,
    OutboxSignal outboxSignal,
    SessionPolicy policy,
    KeyRing keys,
    TimeProvider clock)
{
    public const string SourceService = Protocol.Services.Token;

    /// <summary>Opens a session for <paramref name="grant"/> with the first refresh token of its family.</summary>
    public async Task<IssuedSession> OpenAsync(
        SessionGrant grant, string? ip, string? userAgent, HttpContext http, string actor, CancellationToken cancellationToken,
        Guid? id = null, Guid? browserSessionId = null)
    {
        var now = clock.GetUtcNow();
        // The sid carries its creation millisecond (sub-wide revocation compares it); a code-flow sid was chosen
        // (the same way) when the code was issued, moments ago.
        var sid = id ?? Guid.CreateVersion7(now);
        var (refreshToken, hash) = OpaqueRefreshToken.Create(keys.RefreshTokenKey, sid, grant.ClientId);
        var session = new Session
        {
            Id = sid,
            BrowserSessionId = browserSessionId,
            Subject = grant.Subject,
            ClientId = grant.ClientId,
            Amr = grant.Amr,
            Roles = grant.Roles,
            Scopes = grant.Scopes,
            AuthTime = grant.AuthTime,
            Email = grant.Email,
            EmailVerified = grant.EmailVerified,
            CreatedAt = now,
            LastUsedAt = now,
            ExpiresAt = policy.ExpiresAt(now),
            IpAddress = ip,
            UserAgent = EventStamping.Truncate(userAgent),
            RefreshTokenHash = hash,
        };
        db.Sessions.Add(session);
        db.AddIntegrationEvent(new SessionCreated { SessionId = session.Id.ToString(), ClientId = grant.ClientId, Amr = grant.Amr, IpAddress = ip, UserAgent = session.UserAgent }
            .Stamp(SourceService, http, actor, grant.Subject));
        await db.SaveChangesAsync(cancellationToken);
        return new IssuedSession(session, refreshToken);
    }

    /// <summary>
    /// Redeems the refresh token of session <paramref name="sid"/> whose secret hashes to <paramref name="presentedHash"/>
    /// (its tag already checked) for the next one. The happy path is one statement by primary key: rotate the session
    /// row, queue TokenRefreshed in the outbox atomically, and read the row back for the new tokens. It matches only
    /// while the token is the current one, so of concurrent redemptions exactly one matches (the others wait for
    /// its row lock and re-check). Everything else looks at the session: a token of the family that is not current —
    /// an old one, or one a concurrent request has just redeemed — is a replay, and revokes the whole session.
    /// </summary>
    public async Task<Rotation> RotateAsync(Guid sid, byte[] presentedHash, string[] requestedScopes, string clientId, HttpContext http, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        var (next, nextHash) = OpaqueRefreshToken.Create(keys.RefreshTokenKey, sid, clientId);
        // The subject is only known from the row: the statement writes it into the queued event itself.
        var outbox = OutboxMessage.From(new TokenRefreshed { SessionId = sid.ToString(), ClientId = clientId }.Stamp(SourceService, http, clientId, subject: null));
        var rotated = await db.Sessions.FromSqlRaw($"""
            WITH rotated AS (
                UPDATE sessions
                   SET previous_refresh_token_hash = refresh_token_hash, refresh_token_hash = @next, rotated_at = @now,
                       last_used_at = @now, ip_address = @ip, user_agent = @user_agent
                 WHERE id = @sid AND refresh_token_hash = @presented AND client_id = @client_id AND scopes @> @requested
                   AND {SessionPolicy.UsableSql}
                RETURNING *),
            queued AS (
                INSERT INTO outbox_messages (event_id, type, payload, occurred_at, trace_parent, attempts)
                SELECT @event_id, @event_type, jsonb_set(CAST(@payload AS jsonb), ARRAY['subject'], to_jsonb(subject)), @occurred_at, @trace_parent, 0 FROM rotated)
            SELECT * FROM rotated
            """,
                Parameter("sid", sid), Parameter("presented", presentedHash), Parameter("next", nextHash),
                Parameter("client_id", clientId), Parameter("requested", requestedScopes),
                Parameter("now", now), Parameter("idle_cutoff", policy.IdleCutoff(now)),
                Parameter("ip", EventStamping.ClientAddress(http)), Parameter("user_agent", EventStamping.UserAgent(http)),
                Parameter("event_id", outbox.EventId), Parameter("event_type", outbox.Type), Parameter("payload", outbox.Payload),
                Parameter("occurred_at", outbox.OccurredAt), Parameter("trace_parent", outbox.TraceParent))
            .AsNoTracking()
            .ToListAsync(cancellationToken);
        if (rotated.Count == 1)
        {
            outboxSignal.Notify();
            return new Rotation(RefreshDecision.Rotate, new IssuedSession(rotated[0], next));
        }

        var session = await db.Sessions.FirstOrDefaultAsync(s => s.Id == sid, cancellationToken);
        if (session is null || session.ClientId != clientId)
        {
            return new Rotation(RefreshDecision.Refuse, null);
        }
        var decision = policy.Decide(session, presentedHash, requestedScopes, now);
        if (decision == RefreshDecision.ReuseDetected)
        {
            db.AddIntegrationEvent(new RefreshTokenReuseDetected { SessionId = sid.ToString(), ClientId = clientId }.Stamp(SourceService, http, clientId, session.Subject));
            await RevokeTrackedAsync(session, RevocationReasons.RefreshTokenReuse, http, clientId, cancellationToken);
        }
        // Rotate here means the session changed under us between the two statements (it cannot become current
        // again): refuse rather than issue without the atomic rotation.
        return new Rotation(decision == RefreshDecision.Rotate ? RefreshDecision.Refuse : decision, null);
    }

    /// <summary>
    /// Redeems authorization code <paramref name="codeId"/>: opens its session <paramref name="sid"/>, or — when the
    /// code was redeemed before — revokes the session the first redemption opened and returns null (RFC 6749
    /// §4.1.2, RFC 9700 §4.5). The redemption row and the session commit together, so a concurrent replay waits
    /// on the row's unique key until the first one has committed and then finds the session to revoke.
    /// </summary>
    public async Task<IssuedSession?> OpenFromCodeAsync(
        Guid codeId, DateTimeOffset codeExpiresAt, Guid sid, Guid? browserSessionId, SessionGrant grant,
        string? ip, string? userAgent, HttpContext http, CancellationToken cancellationToken)
    {
        await using (var transaction = await db.Database.BeginTransactionAsync(cancellationToken))
        {
            var inserted = await db.Database.ExecuteSqlRawAsync(
                "INSERT INTO redeemed_codes (code_id, session_id, redeemed_at, expires_at) VALUES (@code, @sid, @now, @expires) ON CONFLICT (code_id) DO NOTHING",
                [Parameter("code", codeId), Parameter("sid", sid), Parameter("now", clock.GetUtcNow()), Parameter("expires", codeExpiresAt)],
                cancellationToken);
            if (inserted == 1)
            {
                var issued = await OpenAsync(grant, ip, userAgent, http, grant.Subject, cancellationToken, sid, browserSessionId);
                await transaction.CommitAsync(cancellationToken);
                outboxSignal.Notify();
                return issued;
            }
        }
        await RevokeAsync(sid, RevocationReasons.AuthorizationCodeReplay, owner: null, http, grant.ClientId, cancellationToken);
        return null;
    }

    /// <summary>Ends every session a hosted sign-in opened (end-session, sign-out on the pages); returns how many.</summary>
    public async Task<int> RevokeBrowserSessionAsync(Guid browserSessionId, string subject, HttpContext http, CancellationToken cancellationToken)
    {
        var sessions = await db.Sessions.Where(s => s.BrowserSessionId == browserSessionId && s.Subject == subject && s.RevokedAt == null).ToListAsync(cancellationToken);
        foreach (var session in sessions)
        {
            await RevokeTrackedAsync(session, RevocationReasons.Logout, http, subject, cancellationToken);
        }
        return sessions.Count;
    }

    private static NpgsqlParameter Parameter(string name, object? value) => new(name, value ?? DBNull.Value);

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
        if (sids.Count > 0)
        {
            backchannelLogouts.Notify();
        }
        if (keep is null)
        {
            // Also covers a session being opened right now, which the list above cannot see yet.
            await revocations.DeliverSubjectAsync(subject, sids, now.ToUnixTimeMilliseconds());
        }
        else
        {
            await revocations.DeliverSessionsAsync(sids);
        }
        return sessions.Count;
    }

    /// <summary>
    /// Marks every live session of client <paramref name="clientId"/> (of <paramref name="subject"/> only, when given) revoked,
    /// with a <see cref="SessionRevoked"/> event each, in this context: the caller's SaveChanges commits them with its
    /// own change. Hand the returned sids to <see cref="DeliverRevocationsAsync"/> after the commit.
    /// </summary>
    public async Task<List<string>> MarkClientSessionsRevokedAsync(string clientId, string? subject, string reason, HttpContext? http, string actor, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        var sessions = await db.Sessions
            .Where(s => s.ClientId == clientId && s.RevokedAt == null && (subject == null || s.Subject == subject))
            .ToListAsync(cancellationToken);
        foreach (var session in sessions)
        {
            session.RevokedAt = now;
            session.RevokedReason = reason;
            db.AddIntegrationEvent(new SessionRevoked { SessionId = session.Id.ToString(), Reason = reason }.Stamp(SourceService, http, actor, session.Subject));
        }
        return [.. sessions.Select(s => s.Id.ToString())];
    }

    /// <summary>Gets committed revocations into Redis (now, or when Redis is back), then wakes the outbox dispatcher.</summary>
    public async Task DeliverRevocationsAsync(List<string> sids)
    {
        outboxSignal.Notify();
        if (sids.Count > 0)
        {
            backchannelLogouts.Notify();
            await revocations.DeliverSessionsAsync(sids);
        }
    }

    /// <summary>tokendb's own answer: is <paramref name="sid"/> a usable session of <paramref name="subject"/>? (For when Redis cannot be asked.)</summary>
    public Task<bool> IsActiveAsync(Guid sid, string subject, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        return db.Sessions.FromSqlRaw(
                $"SELECT * FROM sessions WHERE id = @sid AND subject = @subject AND {SessionPolicy.UsableSql}",
                Parameter("sid", sid), Parameter("subject", subject), Parameter("now", now), Parameter("idle_cutoff", policy.IdleCutoff(now)))
            .AnyAsync(cancellationToken);
    }

    public Task<List<Session>> ListActiveAsync(string subject, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        return db.Sessions.FromSqlRaw(
                $"SELECT * FROM sessions WHERE subject = @subject AND {SessionPolicy.UsableSql}",
                Parameter("subject", subject), Parameter("now", now), Parameter("idle_cutoff", policy.IdleCutoff(now)))
            .AsNoTracking()
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
        backchannelLogouts.Notify();
        // Delivered even when tokendb already had it revoked: a retry by the client must still land.
        await revocations.DeliverSessionsAsync([session.Id.ToString()]);
    }
}

/// <summary>A session and the refresh token its row now expects (handed to the client once, never stored).</summary>
public sealed record IssuedSession(Session Session, string RefreshToken);

/// <summary>What presenting a refresh token did: on <see cref="RefreshDecision.Rotate"/>, the session with its next token.</summary>
public sealed record Rotation(RefreshDecision Decision, IssuedSession? Issued);

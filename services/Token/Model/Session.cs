using System.Security.Cryptography;

namespace SecurePlatform.Token.Model;

/// <summary>One sign-in: its refresh-token family, device and times. Id = the <c>sid</c> claim (UUIDv7).</summary>
public sealed class Session
{
    public Guid Id { get; set; }

    public string Subject { get; set; } = "";

    /// <summary>The client the session's tokens belong to (e.g. platform-app).</summary>
    public string ClientId { get; set; } = "";

    public string[] Amr { get; set; } = [];

    public string[] Roles { get; set; } = [];

    /// <summary>The scopes granted at sign-in; every token of the session carries them.</summary>
    public string[] Scopes { get; set; } = [];

    /// <summary>
    /// When the user last proved who they are for this session (<c>auth_time</c>): a refresh repeats it, never renews it,
    /// or refreshing would make any old session "recent" for the sensitive actions.
    /// </summary>
    public DateTimeOffset AuthTime { get; set; }

    /// <summary>The email claims a code-flow sign-in with the <c>email</c> scope put in its tokens, repeated by every refresh.</summary>
    public string? Email { get; set; }

    public bool? EmailVerified { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset LastUsedAt { get; set; }

    public DateTimeOffset ExpiresAt { get; set; }

    public string? IpAddress { get; set; }

    public string? UserAgent { get; set; }

    /// <summary>The SHA-256 of the secret of the only refresh token of the family that may be redeemed next (<see cref="OpaqueRefreshToken"/>).</summary>
    public byte[] RefreshTokenHash { get; set; } = [];

    /// <summary>The hash of the token it replaced and when (kept for investigation; never redeemable).</summary>
    public byte[]? PreviousRefreshTokenHash { get; set; }

    public DateTimeOffset? RotatedAt { get; set; }

    public DateTimeOffset? RevokedAt { get; set; }

    public string? RevokedReason { get; set; }

    /// <summary>
    /// The hosted sign-in (browser cookie at token-service) this session was opened from, if any: signing out
    /// there (end-session) ends every session it opened.
    /// </summary>
    public Guid? BrowserSessionId { get; set; }

    /// <summary>
    /// Back-channel logout of an ended session (see <see cref="BackchannelLogout"/>): when the client's notification
    /// was settled (delivered, refused or abandoned), how many attempts were made, and when the next one is due (also
    /// the lease of the replica sending it).
    /// </summary>
    public DateTimeOffset? BackchannelLogoutDoneAt { get; set; }

    public int BackchannelLogoutAttempts { get; set; }

    public DateTimeOffset? BackchannelLogoutNextAt { get; set; }
}

/// <summary>
/// What a sign-in grants: who, for which client, how they proved it, and what every token of the session carries
/// (<see cref="Session"/> keeps it; refresh tokens are opaque and carry nothing).
/// </summary>
public sealed record SessionGrant(
    string Subject, string ClientId, string[] Amr, string[] Roles, string[] Scopes, DateTimeOffset AuthTime, string? Email = null, bool? EmailVerified = null);

/// <summary>
/// The session rules, defined once: whether a session is still usable, when it ends, how long its next refresh
/// token may live and what presenting a refresh token means. <see cref="UsableSql"/> is the same usability rule
/// for the statement that rotates refresh tokens atomically; a test holds the two to the same answers.
/// </summary>
public sealed class SessionPolicy(TimeSpan idleTimeout, TimeSpan absoluteLifetime)
{
    /// <summary>
    /// <see cref="IsUsable"/> over the <c>sessions</c> columns, for parameters <c>@now</c> and
    /// <c>@idle_cutoff</c> (= <see cref="IdleCutoff"/>).
    /// </summary>
    public const string UsableSql = "revoked_at IS NULL AND expires_at > @now AND last_used_at > @idle_cutoff";

    public static SessionPolicy From(TokenOptions options) => new(options.SessionIdleTimeout, options.SessionAbsoluteLifetime);

    public TimeSpan IdleTimeout => idleTimeout;

    /// <summary>A session ends this long after sign-in, however busy.</summary>
    public DateTimeOffset ExpiresAt(DateTimeOffset createdAt) => createdAt + absoluteLifetime;

    /// <summary>A session last used at or before this instant has been idle too long.</summary>
    public DateTimeOffset IdleCutoff(DateTimeOffset now) => now - idleTimeout;

    public bool IsUsable(Session session, DateTimeOffset now)
        => session.RevokedAt is null && session.ExpiresAt > now && session.LastUsedAt > IdleCutoff(now);

    /// <summary>A refresh token lives until the idle timeout or the absolute end of its session, whichever comes first.</summary>
    public TimeSpan RefreshTokenLifetime(DateTimeOffset sessionExpiresAt, DateTimeOffset now)
    {
        var untilEnd = sessionExpiresAt - now;
        return untilEnd < idleTimeout ? untilEnd : idleTimeout;
    }

    /// <summary>
    /// What presenting the refresh token whose secret hashes to <paramref name="presentedHash"/> means (its tag has
    /// already proved it a member of the session's family). Only the current token redeems; any other member — an
    /// older token, or the one a concurrent request has just redeemed — is a replay. There is no reuse leeway: a
    /// leeway is exactly the window in which two redemptions both succeed. A request for scopes the session was
    /// not granted is refused without redeeming (RFC 6749 §6).
    /// </summary>
    public RefreshDecision Decide(Session session, byte[] presentedHash, IReadOnlyCollection<string> requestedScopes, DateTimeOffset now)
    {
        if (!IsUsable(session, now))
        {
            return RefreshDecision.Refuse;
        }
        if (!CryptographicOperations.FixedTimeEquals(presentedHash, session.RefreshTokenHash))
        {
            return RefreshDecision.ReuseDetected;
        }
        return requestedScopes.All(session.Scopes.Contains) ? RefreshDecision.Rotate : RefreshDecision.ScopeNotGranted;
    }
}

public enum RefreshDecision
{
    Rotate,
    Refuse,
    ReuseDetected,
    ScopeNotGranted,
}

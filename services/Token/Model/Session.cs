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

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset LastUsedAt { get; set; }

    public DateTimeOffset ExpiresAt { get; set; }

    public string? IpAddress { get; set; }

    public string? UserAgent { get; set; }

    /// <summary>The only refresh token of the family that may be redeemed next.</summary>
    public Guid RefreshTokenId { get; set; }

    /// <summary>The token it replaced and when (kept for investigation; never redeemable).</summary>
    public Guid? PreviousRefreshTokenId { get; set; }

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
    /// What presenting refresh token <paramref name="presented"/> means. Only the current token of the family
    /// redeems; any other member — an older token, or the one a concurrent request has just redeemed — is a
    /// replay. There is no reuse leeway: a leeway is exactly the window in which two redemptions both succeed.
    /// </summary>
    public RefreshDecision Decide(Session session, Guid presented, DateTimeOffset now)
    {
        if (!IsUsable(session, now))
        {
            return RefreshDecision.Refuse;
        }
        return presented == session.RefreshTokenId ? RefreshDecision.Rotate : RefreshDecision.ReuseDetected;
    }
}

public enum RefreshDecision
{
    Rotate,
    Refuse,
    ReuseDetected,
}

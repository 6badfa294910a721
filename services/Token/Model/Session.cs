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

    /// <summary>The token it replaced and when, for an optional reuse leeway.</summary>
    public Guid? PreviousRefreshTokenId { get; set; }

    public DateTimeOffset? RotatedAt { get; set; }

    public DateTimeOffset? RevokedAt { get; set; }

    public string? RevokedReason { get; set; }
}

/// <summary>Pure session rules: is it still usable, and how long may its next refresh token live.</summary>
public static class SessionPolicy
{
    public static bool IsUsable(Session session, DateTimeOffset now, TimeSpan idleTimeout)
        => session.RevokedAt is null && now < session.ExpiresAt && now - session.LastUsedAt < idleTimeout;

    /// <summary>A refresh token lives until the idle timeout or the absolute end of its session, whichever comes first.</summary>
    public static TimeSpan RefreshTokenLifetime(Session session, DateTimeOffset now, TimeSpan idleTimeout)
    {
        var untilEnd = session.ExpiresAt - now;
        return untilEnd < idleTimeout ? untilEnd : idleTimeout;
    }

    /// <summary>What presenting refresh token <paramref name="presented"/> means for the session.</summary>
    public static RefreshDecision Decide(Session session, Guid presented, DateTimeOffset now, TimeSpan idleTimeout, TimeSpan reuseLeeway)
    {
        if (!IsUsable(session, now, idleTimeout))
        {
            return RefreshDecision.Refuse;
        }
        if (presented == session.RefreshTokenId)
        {
            return RefreshDecision.Rotate;
        }
        if (presented == session.PreviousRefreshTokenId && session.RotatedAt is { } rotated && now - rotated < reuseLeeway)
        {
            return RefreshDecision.Rotate;
        }
        return RefreshDecision.ReuseDetected;
    }
}

public enum RefreshDecision
{
    Rotate,
    Refuse,
    ReuseDetected,
}

using SecurePlatform.Contracts;

namespace SecurePlatform.Token.Model;

/// <summary>
/// OpenID Connect Back-Channel Logout 1.0: when a session of a client that registered a back-channel logout URI
/// ends, the client gets a signed logout token naming the user and the session. The rules are here; the delivery
/// (<c>BackchannelLogoutDelivery</c>) reads the sessions table, which is its outbox: a revoked session of such a
/// client is a notification owed until it is marked done.
/// </summary>
public static class BackchannelLogout
{
    /// <summary>The member of the logout token's <c>events</c> claim (§2.4).</summary>
    public const string EventType = "http://schemas.openid.net/event/backchannel-logout";

    /// <summary>The JWT <c>typ</c> header (§2.4, as the 2023 errata recommend) so a logout token is never taken for another token.</summary>
    public const string TokenType = "logout+jwt";

    /// <summary>Where a client registration keeps its URI (OpenIddict application property).</summary>
    public const string UriProperty = "backchannel_logout_uri";

    /// <summary>A logout token is for immediate use: the client checks <c>iat</c> and should not accept an old one.</summary>
    public static readonly TimeSpan TokenLifetime = TimeSpan.FromMinutes(2);

    /// <summary>The longest wait between two attempts, however many failed.</summary>
    public static readonly TimeSpan MaxRetryDelay = TimeSpan.FromHours(1);

    /// <summary>
    /// What a back-channel logout URI may be (§2.2): absolute, https — http only on loopback, for local development
    /// and tests —, a query allowed, no fragment, no user information. token-service posts to it from its own network,
    /// and only an administrator registers it.
    /// </summary>
    public static string? UriProblem(string value)
    {
        if (RedirectUriRules.Problem(value) is { } problem)
        {
            return problem;
        }
        var uri = new Uri(value);
        return uri.Scheme is "https" or "http" ? null : "is neither https nor loopback http";
    }

    /// <summary>The logout token's claims (§2.4): no <c>nonce</c> (it would make it look like an identity token), both <c>sub</c> and <c>sid</c>.</summary>
    public static IDictionary<string, object> Claims(string subject, Guid sessionId, string tokenId) => new Dictionary<string, object>(StringComparer.Ordinal)
    {
        ["sub"] = subject,
        ["sid"] = sessionId.ToString(),
        ["jti"] = tokenId,
        ["events"] = new Dictionary<string, object> { [EventType] = new Dictionary<string, object>() },
    };

    /// <summary>
    /// What to do after attempt number <paramref name="attempts"/> (1 for the first) got <paramref name="status"/> (null: no
    /// answer — refused connection, timeout). A 2xx is delivered. Any other 4xx but 408 and 429 is the client saying the
    /// token is wrong for it: sending it again cannot help. Everything else is tried again after a doubling delay, until
    /// the next attempt would fall after <paramref name="retryPeriod"/> from the session's end.
    /// </summary>
    public static BackchannelLogoutStep Next(int? status, int attempts, DateTimeOffset revokedAt, DateTimeOffset now, TimeSpan firstDelay, TimeSpan retryPeriod)
    {
        if (status is >= 200 and < 300)
        {
            return new(BackchannelLogoutOutcomes.Delivered, null);
        }
        if (status is >= 400 and < 500 and not 408 and not 429)
        {
            return new(BackchannelLogoutOutcomes.Refused, null);
        }
        var next = now + RetryDelay(attempts, firstDelay);
        return next > revokedAt + retryPeriod ? new(BackchannelLogoutOutcomes.Abandoned, null) : new(null, next);
    }

    /// <summary><paramref name="firstDelay"/> after the first failure, doubling after each further one, at most <see cref="MaxRetryDelay"/>.</summary>
    public static TimeSpan RetryDelay(int attempts, TimeSpan firstDelay)
    {
        var doublings = Math.Clamp(attempts - 1, 0, 30);
        var delay = firstDelay * Math.Pow(2, doublings);
        return delay < MaxRetryDelay ? delay : MaxRetryDelay;
    }
}

/// <summary>After an attempt: <see cref="Outcome"/> when the notification is done (delivered, refused or abandoned), else when to try again.</summary>
public readonly record struct BackchannelLogoutStep(string? Outcome, DateTimeOffset? RetryAt)
{
    public bool Done => Outcome is not null;
}

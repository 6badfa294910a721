using SecurePlatform.Contracts;
using Microsoft.Extensions.Hosting;

namespace SecurePlatform.Token.Model;

/// <summary>Section <c>Token</c>: lifetimes, keys and clients of token-service.</summary>
public sealed class TokenOptions
{
    public const string SectionName = "Token";

    /// <summary>Fixed issuer (recommended: the public base URL). Default: derived from the request.</summary>
    public Uri? Issuer { get; set; }

    public TimeSpan AccessTokenLifetime { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>A session unused this long ends.</summary>
    public TimeSpan SessionIdleTimeout { get; set; } = TimeSpan.FromDays(7);

    /// <summary>A session ends this long after sign-in, however busy.</summary>
    public TimeSpan SessionAbsoluteLifetime { get; set; } = TimeSpan.FromDays(30);

    /// <summary>One of <see cref="SigningAlgorithms"/>; RS256 by default.</summary>
    public string SigningAlgorithm { get; set; } = "RS256";

    public static readonly IReadOnlyList<string> SigningAlgorithms = ["RS256", "PS256", "ES256"];

    public int RsaKeySize { get; set; } = 2048;

    public TimeSpan KeyRotationPeriod { get; set; } = TimeSpan.FromDays(30);

    /// <summary>How long a new key is published in JWKS before it signs.</summary>
    public TimeSpan KeyAnnouncementPeriod { get; set; } = TimeSpan.FromDays(2);

    /// <summary>How often the key ring re-reads tokendb (keys another replica created) when no transition is due sooner.</summary>
    public TimeSpan KeyRefreshInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// How long a replica keeps a client application in memory. A client changed or removed on another replica
    /// (a rotated secret, a withdrawn permission) is honoured here at the latest this long afterwards.
    /// </summary>
    public TimeSpan ClientCacheDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>HMAC key for stored client-secret hashes.</summary>
    public string? ClientSecretHashKey { get; set; }

    /// <summary>
    /// Hash keys replaced by <see cref="ClientSecretHashKey"/>: secrets hashed with them still verify, and are
    /// re-hashed with the current key when they do, until <see cref="PreviousClientSecretHashKeysUntil"/>.
    /// </summary>
    public List<string> PreviousClientSecretHashKeys { get; set; } = [];

    /// <summary>When the previous hash keys retire (none: until they are removed from configuration).</summary>
    public DateTimeOffset? PreviousClientSecretHashKeysUntil { get; set; }

    /// <summary>A back-channel logout the client did not take is tried again after this, then after twice as long each time.</summary>
    public TimeSpan BackchannelLogoutRetryDelay { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long after a session ended its client's back-channel logout is still tried; then it is abandoned (audited).</summary>
    public TimeSpan BackchannelLogoutRetryPeriod { get; set; } = TimeSpan.FromHours(24);

    /// <summary>How long one back-channel logout request may take.</summary>
    public TimeSpan BackchannelLogoutTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The public first-party client whose tokens a sign-in issues unless the login names another.</summary>
    public string DefaultClientId { get; set; } = Protocol.Clients.PlatformApp;

    /// <summary>The section's rules, checked at start-up (a bad value found later, by a background loop, would go unseen).</summary>
    public static IEnumerable<string> Validate(TokenOptions o) => OptionsRule.Failures(
        o.Issuer is null || (o.Issuer.IsAbsoluteUri && o.Issuer.Scheme is "https" or "http") ? null : "Token:Issuer must be an absolute http(s) URL.",
        OptionsRule.Positive(o.AccessTokenLifetime, "Token:AccessTokenLifetime"),
        OptionsRule.Positive(o.SessionIdleTimeout, "Token:SessionIdleTimeout"),
        OptionsRule.Positive(o.SessionAbsoluteLifetime, "Token:SessionAbsoluteLifetime"),
        SigningAlgorithms.Contains(o.SigningAlgorithm, StringComparer.OrdinalIgnoreCase) ? null : $"Token:SigningAlgorithm must be one of {string.Join(", ", SigningAlgorithms)}.",
        o.RsaKeySize is >= 2048 and <= 16384 && o.RsaKeySize % 8 == 0 ? null : "Token:RsaKeySize must be a multiple of 8 from 2048 to 16384.",
        OptionsRule.Positive(o.KeyRotationPeriod, "Token:KeyRotationPeriod"),
        OptionsRule.NotNegative(o.KeyAnnouncementPeriod, "Token:KeyAnnouncementPeriod"),
        o.KeyAnnouncementPeriod < o.KeyRotationPeriod ? null : "Token:KeyAnnouncementPeriod must be shorter than Token:KeyRotationPeriod.",
        OptionsRule.Positive(o.KeyRefreshInterval, "Token:KeyRefreshInterval"),
        OptionsRule.Positive(o.ClientCacheDuration, "Token:ClientCacheDuration"),
        OptionsRule.Positive(o.BackchannelLogoutRetryDelay, "Token:BackchannelLogoutRetryDelay"),
        OptionsRule.Positive(o.BackchannelLogoutRetryPeriod, "Token:BackchannelLogoutRetryPeriod"),
        o.BackchannelLogoutTimeout > TimeSpan.Zero && o.BackchannelLogoutTimeout <= TimeSpan.FromSeconds(20) ? null : "Token:BackchannelLogoutTimeout must be positive and at most 20 seconds (a claimed notification is leased for 30).",
        OptionsRule.Required(o.DefaultClientId, "Token:DefaultClientId"));

    /// <summary>How long a revocation key lives in Redis: longer than any access token it can concern.</summary>
    public TimeSpan RevocationKeyLifetime => AccessTokenLifetime + TimeSpan.FromSeconds(30) + TimeSpan.FromMinutes(1);
}

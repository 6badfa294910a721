using Microsoft.Extensions.Hosting;

namespace SecurePlatform.Auth.Infrastructure;

/// <summary>Section <c>Login</c>.</summary>
public sealed class LoginOptions
{
    public const string SectionName = "Login";

    /// <summary>Browser mode: the refresh token travels in this cookie, sent only to token-service's token endpoint.</summary>
    public const string RefreshCookieName = "__Secure-sp_rt";

    public const string RefreshCookiePath = "/connect/token";

    /// <summary>The registered public first-party client the tokens belong to when a login names none.</summary>
    public string DefaultClientId { get; set; } = "platform-app";

    /// <summary>Max-Age of the refresh cookie: the session's absolute lifetime at token-service (default 30 days).</summary>
    public TimeSpan RefreshCookieLifetime { get; set; } = TimeSpan.FromDays(30);

    public static IEnumerable<string> Validate(LoginOptions o) => OptionsRule.Failures(
        OptionsRule.Required(o.DefaultClientId, "Login:DefaultClientId"),
        OptionsRule.Positive(o.RefreshCookieLifetime, "Login:RefreshCookieLifetime"));
}

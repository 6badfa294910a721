using Microsoft.Extensions.Hosting;

namespace SecurePlatform.ServiceDefaults.Security;

/// <summary>Section <c>Security</c>. Defaults are the safe ones; configuration only loosens what it names.</summary>
public sealed class SecurityOptions
{
    public const string SectionName = "Security";

    /// <summary>
    /// The URL clients reach this service at (scheme, host, optional path), e.g. <c>https://api.example.com/</c>.
    /// OpenAPI names it as the server, and outside Development its host is accepted (see <c>AllowedHosts</c>).
    /// token-service defaults it to <c>Token:Issuer</c>.
    /// </summary>
    public Uri? PublicBaseUrl { get; set; }

    /// <summary>Default request body limit; endpoint groups raise it where they need to (uploads).</summary>
    public long MaxRequestBodyBytes { get; set; } = 64 * 1024;

    /// <summary>Refuse plain HTTP with 400 instead of redirecting (ASVS V4.1.2). Default: on outside Development.</summary>
    public bool? RequireHttps { get; set; }

    /// <summary>Proxies whose X-Forwarded-* headers are trusted. Empty: none (not even loopback).</summary>
    public List<string> KnownProxies { get; set; } = [];

    /// <summary>Networks (CIDR) whose X-Forwarded-* headers are trusted.</summary>
    public List<string> KnownNetworks { get; set; } = [];

    public CorsSettings Cors { get; set; } = new();

    /// <summary>
    /// How old a sign-in (<c>auth_time</c>) may be for sensitive actions (password change, MFA disable, new recovery
    /// codes); older sessions must sign in again. Default 10 minutes.
    /// </summary>
    public TimeSpan RecentAuthenticationWindow { get; set; } = TimeSpan.FromMinutes(10);

    public static IEnumerable<string> Validate(SecurityOptions o) => OptionsRule.Failures(
        [
            OptionsRule.AtLeast(o.MaxRequestBodyBytes, 1, "Security:MaxRequestBodyBytes"),
            o.RecentAuthenticationWindow > TimeSpan.Zero && o.RecentAuthenticationWindow <= TimeSpan.FromDays(1)
                ? null : "Security:RecentAuthenticationWindow must be positive and at most one day.",
            .. o.KnownProxies.Select((p, i) => System.Net.IPAddress.TryParse(p, out _) ? null : $"Security:KnownProxies:{i} must be an IP address."),
            .. o.KnownNetworks.Select((n, i) => System.Net.IPNetwork.TryParse(n, out _) ? null : $"Security:KnownNetworks:{i} must be a network in CIDR notation."),
            .. o.Cors.AllowedOrigins.Select((origin, i) => IsOrigin(origin) ? null : $"Security:Cors:AllowedOrigins:{i} must be an origin (scheme://host[:port]), no wildcard."),
        ]);

    private static bool IsOrigin(string origin) =>
        Uri.TryCreate(origin, UriKind.Absolute, out var uri) && uri.Scheme is "https" or "http" && uri.AbsolutePath == "/"
        && !origin.Contains('*', StringComparison.Ordinal) && origin.TrimEnd('/') == uri.GetLeftPart(UriPartial.Authority);

    public sealed class CorsSettings
    {
        /// <summary>Exact origins (scheme://host[:port]) allowed to call the API from a browser. No wildcards.</summary>
        public List<string> AllowedOrigins { get; set; } = [];

        public bool AllowCredentials { get; set; }
    }
}

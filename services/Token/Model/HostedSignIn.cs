using System.Security.Claims;
using Microsoft.AspNetCore.WebUtilities;

namespace SecurePlatform.Token.Model;

/// <summary>
/// The browser's sign-in at token-service (the hosted pages): a cookie of its own, holding who signed in,
/// how and when, and the id of this browser sign-in, which every session opened through it records.
/// </summary>
public static class HostedSignIn
{
    public const string Scheme = "sp_account";

    /// <summary>Prefixed <c>__Host-</c> outside Development: Secure, Path=/, no Domain — no other host or path can set or read it.</summary>
    public const string CookieName = "sp_account";

    public const string LoginPath = "/account/login";
    public const string ConsentPath = "/account/consent";
    public const string LogoutPath = "/account/logout";
    public const string ErrorPath = "/account/error";
    public const string SecurityPath = "/account/security";
    public const string AuthorizePath = "/connect/authorize";
    public const string EndSessionPath = "/connect/endsession";

    /// <summary>Claims of the cookie besides sub, amr, roles and email.</summary>
    public static class Claims
    {
        public const string BrowserSession = "bsid";
        public const string AuthTime = "auth_time";
        public const string EmailVerified = "email_verified";
    }

    /// <summary>Private claims of an authorization code (never in a token a client reads).</summary>
    public static class CodeClaims
    {
        public const string Id = "sp_code";
        public const string BrowserSession = "sp_bsid";
        public const string ClientIp = "sp_ip";
        public const string UserAgent = "sp_ua";
    }

    /// <summary>Query flag the consent page adds when the user declined: the authorization endpoint answers access_denied.</summary>
    public const string DeniedFlag = "sp_denied";

    public static DateTimeOffset? AuthTime(ClaimsPrincipal user) =>
        long.TryParse(user.FindFirstValue(Claims.AuthTime), out var seconds) ? DateTimeOffset.FromUnixTimeSeconds(seconds) : null;

    /// <summary>
    /// A return URL the pages may follow: our own authorization or end-session endpoint with its query, or the security page; nothing
    /// else (no other path, host, scheme, or <c>//</c> / <c>\</c> tricks).
    /// </summary>
    public static bool IsReturnUrl(string? url) =>
        url is not null && url.Length < 8000
        && (url.StartsWith(AuthorizePath + "?", StringComparison.Ordinal) || url.StartsWith(EndSessionPath + "?", StringComparison.Ordinal) || url == EndSessionPath || url == SecurityPath)
        && !url.Contains('\\', StringComparison.Ordinal) && !url.Contains("//", StringComparison.Ordinal)
        && !url.Any(char.IsControl);

    /// <summary>The parameters of a return URL's query (first value of each).</summary>
    public static Dictionary<string, string> Parameters(string returnUrl)
    {
        var query = returnUrl.IndexOf('?', StringComparison.Ordinal) is var i and >= 0 ? returnUrl[i..] : "";
        return QueryHelpers.ParseQuery(query).ToDictionary(p => p.Key, p => p.Value.ToString(), StringComparer.Ordinal);
    }

    /// <summary>The request again, without <c>prompt</c> (so a satisfied prompt=login/consent does not loop) and with <paramref name="extra"/>.</summary>
    public static string Rebuild(string path, IEnumerable<KeyValuePair<string, string>> parameters, string? extra = null)
    {
        var kept = parameters.Where(p => p.Key is not "prompt" && p.Key != DeniedFlag)
            .Select(p => new KeyValuePair<string, string?>(p.Key, p.Value));
        var url = QueryString.Create(kept).ToUriComponent();
        return path + url + (extra is null ? "" : (url.Length > 0 ? "&" : "?") + extra);
    }
}

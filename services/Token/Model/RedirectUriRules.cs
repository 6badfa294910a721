namespace SecurePlatform.Token.Model;

/// <summary>
/// What a registered redirect or post-logout URI may be (RFC 9700 §2.1, RFC 8252): absolute, https — or http
/// on a loopback address for native apps —, or a private-use scheme with a dot (reverse domain); no fragment,
/// no wildcard, no user info. Matching is exact string comparison (OpenIddict's), so nothing else is needed.
/// </summary>
public static class RedirectUriRules
{
    public static string? Problem(string value)
    {
        if (value.Length > 2000)
        {
            return "is longer than 2000 characters";
        }
        if (value.Contains('*', StringComparison.Ordinal))
        {
            return "contains a wildcard";
        }
        // On Unix a rooted path parses as an absolute file: URI; it is a relative reference here.
        if (value.StartsWith('/') || value.StartsWith('\\') || !Uri.TryCreate(value, UriKind.Absolute, out var uri))
        {
            return "is not an absolute URI";
        }
        if (value.Contains('#', StringComparison.Ordinal))
        {
            return "has a fragment";
        }
        if (!string.IsNullOrEmpty(uri.UserInfo))
        {
            return "has user information";
        }
        return uri.Scheme switch
        {
            "https" => null,
            "http" when uri.IsLoopback && uri.Host is "127.0.0.1" or "[::1]" or "localhost" => null,
            "http" => "uses http on a host other than loopback",
            "javascript" or "data" or "file" or "vbscript" => "uses a forbidden scheme",
            _ when uri.Scheme.Contains('.', StringComparison.Ordinal) => null, // private-use scheme (RFC 8252 §7.1)
            _ => "uses a scheme that is neither https, loopback http nor a reverse-domain private-use scheme",
        };
    }

    /// <summary>
    /// RFC 8252 §7.3: a native app's loopback redirect may use any port, since the app binds whichever is free. So a
    /// registered <c>http://127.0.0.1/…</c> or <c>http://[::1]/…</c> matches the same scheme, host, path and query on
    /// any port; nothing else is relaxed (not <c>localhost</c>, not https, not the path), and exact matches stay exact.
    /// </summary>
    public static bool LoopbackMatches(string registered, string presented)
    {
        if (!Uri.TryCreate(registered, UriKind.Absolute, out var r) || !Uri.TryCreate(presented, UriKind.Absolute, out var p))
        {
            return false;
        }
        return r.Scheme == "http" && p.Scheme == "http"
            && r.HostNameType is UriHostNameType.IPv4 or UriHostNameType.IPv6 && r.IsLoopback
            && string.Equals(r.Host, p.Host, StringComparison.Ordinal)
            && string.IsNullOrEmpty(p.UserInfo)
            && string.Equals(r.PathAndQuery, p.PathAndQuery, StringComparison.Ordinal)
            && !presented.Contains('#', StringComparison.Ordinal);
    }
}

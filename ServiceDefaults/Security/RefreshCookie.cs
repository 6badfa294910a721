using Microsoft.AspNetCore.Http;
using SecurePlatform.Contracts;

namespace SecurePlatform.ServiceDefaults.Security;

/// <summary>
/// The refresh cookie's attributes, once. token-service issues and rotates it (its Max-Age is the refresh
/// token's lifetime, which only token-service knows); auth-service relays token-service's <c>Set-Cookie</c> at
/// sign-in and clears the cookie at sign-out.
/// </summary>
public static class RefreshCookie
{
    public static void Issue(HttpResponse response, string refreshToken, TimeSpan lifetime)
        => response.Cookies.Append(Protocol.RefreshCookie.Name, refreshToken, Options(lifetime));

    public static void Clear(HttpResponse response)
        => response.Cookies.Append(Protocol.RefreshCookie.Name, "", Options(TimeSpan.Zero));

    private static CookieOptions Options(TimeSpan maxAge) => new()
    {
        Path = Protocol.RefreshCookie.Path,
        Secure = true,
        HttpOnly = true,
        SameSite = SameSiteMode.Strict,
        MaxAge = maxAge,
        IsEssential = true,
    };
}

namespace SecurePlatform.Token.Infrastructure;

/// <summary>
/// The hosted login's device cookie (OWASP's device cookies; README "Device cookies"). Its value is auth-service's —
/// bound to the account, authenticated and encrypted there, opaque here — and is relayed to auth-service's credential
/// check, which answers with the value to keep. It lives on this origin because the browser on the login page never
/// talks to auth-service: HttpOnly (no script reads it), Secure outside Development, SameSite=Strict (the login form
/// posts from this origin), only on the account pages' path, for as long as auth-service says.
/// </summary>
public sealed class HostedDeviceCookie(IHostEnvironment environment)
{
    /// <summary>auth-service refuses anything longer; a longer cookie is not one it issued.</summary>
    private const int MaxLength = 1024;

    public string Name => environment.IsDevelopment() ? "sp_device" : "__Secure-sp_device";

    public string? Read(HttpRequest request) => request.Cookies[Name] is { Length: > 0 and <= MaxLength } value ? value : null;

    /// <summary>Keeps what auth-service gave after a successful sign-in (nothing when it gave nothing).</summary>
    public void Write(HttpResponse response, VerifiedUser user)
    {
        if (user is not { DeviceCookie: { Length: > 0 and <= MaxLength } value, DeviceCookieMaxAge: > 0 and var maxAge })
        {
            return;
        }
        response.Cookies.Append(Name, value, new CookieOptions
        {
            HttpOnly = true,
            Secure = !environment.IsDevelopment() || response.HttpContext.Request.IsHttps,
            SameSite = SameSiteMode.Strict,
            Path = "/account",
            MaxAge = TimeSpan.FromSeconds(maxAge),
        });
    }
}

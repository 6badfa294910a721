using System.Text.Json;
using Microsoft.AspNetCore.DataProtection;

namespace SecurePlatform.Token.Infrastructure;

/// <summary>
/// What an external sign-in left for the login page: the MFA ticket of a user whose TOTP is still to be given, or the
/// external account waiting to be linked once the user proves the local password. An encrypted, HttpOnly cookie on
/// the account pages' path, ten minutes; this browser only, read and cleared by the login page.
/// </summary>
public sealed class ExternalSignInState(IDataProtectionProvider dataProtection, IHostEnvironment environment)
{
    public sealed record Pending(string Provider, string? Subject, string? Email, bool EmailVerified, string? MfaTicket);

    private static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(10);
    private readonly ITimeLimitedDataProtector _protector = dataProtection.CreateProtector("SecurePlatform.Token.ExternalSignIn.v1").ToTimeLimitedDataProtector();

    private string CookieName => environment.IsDevelopment() ? "sp_external" : "__Secure-sp_external";

    public void Write(HttpResponse response, Pending pending) =>
        response.Cookies.Append(CookieName, _protector.Protect(JsonSerializer.Serialize(pending), Lifetime), Options(response.HttpContext));

    public Pending? Read(HttpRequest request)
    {
        if (request.Cookies[CookieName] is not { Length: > 0 and < 4096 } value)
        {
            return null;
        }
        try
        {
            return JsonSerializer.Deserialize<Pending>(_protector.Unprotect(value));
        }
        catch (Exception ex) when (ex is System.Security.Cryptography.CryptographicException or JsonException or FormatException)
        {
            return null;
        }
    }

    public void Clear(HttpResponse response) => response.Cookies.Delete(CookieName, Options(response.HttpContext));

    private CookieOptions Options(HttpContext http) => new()
    {
        HttpOnly = true,
        Secure = !environment.IsDevelopment() || http.Request.IsHttps,
        // Lax: the provider's redirect back (a top-level navigation) sets it, the login page reads it.
        SameSite = SameSiteMode.Lax,
        Path = "/account",
        MaxAge = Lifetime,
    };
}

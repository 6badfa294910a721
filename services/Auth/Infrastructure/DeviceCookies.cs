using System.Security.Cryptography;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace SecurePlatform.Auth.Infrastructure;

/// <summary>
/// OWASP's device cookies: a successful sign-in gets a cookie naming the account (its key hash) and a random device
/// nonce, authenticated and encrypted with Data Protection (the ring is shared by the replicas through Redis, the same
/// store that holds the counters it lets a device skip). A device presenting a valid cookie for the account it signs in
/// to keeps its own budget while the account is attacked from elsewhere. The API login sets it on auth-service's
/// <c>/auth</c> path; the hosted login's browser never talks to auth-service, so token-service keeps the same value in
/// a cookie of its own origin and relays it over the back channel (<see cref="Lifetime"/> is its Max-Age there too).
/// </summary>
public sealed class DeviceCookies
{
    private readonly ITimeLimitedDataProtector _protector;
    private readonly LoginThrottleOptions _options;

    public DeviceCookies(IDataProtectionProvider dataProtection, IOptions<LoginThrottleOptions> options)
    {
        _protector = dataProtection.CreateProtector("SecurePlatform.Auth.DeviceCookie.v1").ToTimeLimitedDataProtector();
        _options = options.Value;
    }

    public string Name => _options.DeviceCookieName;

    public TimeSpan Lifetime => _options.DeviceCookieLifetime;

    /// <summary>The device nonce when <paramref name="value"/> is a valid, unexpired cookie bound to <paramref name="account"/>; null otherwise.</summary>
    public string? Read(string? value, string account)
    {
        if (string.IsNullOrEmpty(value) || value.Length > 1024)
        {
            return null;
        }
        try
        {
            var payload = _protector.Unprotect(value, out _);
            var bar = payload.IndexOf('|', StringComparison.Ordinal);
            return bar > 0 && payload.AsSpan(0, bar).SequenceEqual(account) ? payload[(bar + 1)..] : null;
        }
        catch (CryptographicException)
        {
            return null; // forged, tampered, expired, or from a retired key
        }
    }

    /// <summary>The cookie's value for the account, keeping the device's nonce when it had one.</summary>
    public string Issue(string account, string? nonce)
    {
        nonce ??= Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        return _protector.Protect(account + "|" + nonce, _options.DeviceCookieLifetime);
    }

    /// <summary>The <c>Set-Cookie</c> header of the API login for a value of <see cref="Issue"/>.</summary>
    public string SetCookie(string value) =>
        new SetCookieHeaderValue(_options.DeviceCookieName, value)
        {
            Path = "/auth",
            HttpOnly = true,
            Secure = true,
            SameSite = Microsoft.Net.Http.Headers.SameSiteMode.Strict,
            MaxAge = _options.DeviceCookieLifetime,
        }.ToString();
}

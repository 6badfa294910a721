using System.Security.Cryptography;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace SecurePlatform.Auth.Infrastructure;

/// <summary>
/// OWASP's device cookies: a successful sign-in gets a cookie naming the account (its key hash) and a random device
/// nonce, authenticated and encrypted with Data Protection (the ring is shared by the replicas through Redis, the same
/// store that holds the counters it lets a device skip). A device presenting a valid cookie for the account it signs in
/// to keeps its own budget while the account is attacked from elsewhere.
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

    /// <summary>A <c>Set-Cookie</c> value for the account, keeping the device's nonce when it had one.</summary>
    public string Issue(string account, string? nonce)
    {
        nonce ??= Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        var value = _protector.Protect(account + "|" + nonce, _options.DeviceCookieLifetime);
        return new SetCookieHeaderValue(_options.DeviceCookieName, value)
        {
            Path = "/auth",
            HttpOnly = true,
            Secure = true,
            SameSite = Microsoft.Net.Http.Headers.SameSiteMode.Strict,
            MaxAge = _options.DeviceCookieLifetime,
        }.ToString();
    }
}

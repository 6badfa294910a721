using System.Security.Cryptography;
using System.Text;
using OtpNet;

namespace SecurePlatform.Auth.Model;

/// <summary>
/// A user's TOTP authenticator (RFC 6238: SHA-1, 6 digits, 30 s). Pending until <see cref="ConfirmedAt"/> is set by the
/// first valid code. The secret is stored Data-Protection-encrypted; <see cref="LastUsedStep"/> is the time step of the
/// last accepted code, so a code is accepted once.
/// </summary>
public sealed class TotpAuthenticator
{
    public string UserId { get; set; } = "";

    /// <summary>The base32 secret, protected with <see cref="Infrastructure.TotpSecretProtector"/>.</summary>
    public string ProtectedSecret { get; set; } = "";

    public DateTimeOffset CreatedAt { get; set; } = DateTimeOffset.UtcNow;

    public DateTimeOffset? ConfirmedAt { get; set; }

    public long? LastUsedStep { get; set; }

    public bool IsActive => ConfirmedAt is not null;
}

/// <summary>One single-use recovery code, stored as the SHA-256 of its normalised form.</summary>
public sealed class RecoveryCode
{
    public Guid Id { get; set; } = Guid.CreateVersion7();

    public string UserId { get; set; } = "";

    public string Hash { get; set; } = "";

    public DateTimeOffset CreatedAt { get; set; } = DateTimeOffset.UtcNow;

    public DateTimeOffset? UsedAt { get; set; }
}

/// <summary>Pure TOTP rules: secret generation, the otpauth URI, verification with ±1 step of drift and no replay.</summary>
public static class TotpRules
{
    public const int StepSeconds = 30;
    public const int Digits = 6;
    public const int SecretBytes = 20; // 160 bits, RFC 4226's recommendation for HMAC-SHA-1
    public const string Issuer = "SecurePlatform";

    /// <summary>Steps of clock drift accepted either side of the current one.</summary>
    public const int AllowedDriftSteps = 1;

    public static string NewSecret() => Base32Encoding.ToString(KeyGeneration.GenerateRandomKey(SecretBytes));

    /// <summary>Key URI format (Google Authenticator's): <c>otpauth://totp/Issuer:label?secret=…&amp;issuer=…</c>.</summary>
    public static string OtpAuthUri(string secret, string accountLabel) =>
        $"otpauth://totp/{Uri.EscapeDataString(Issuer)}:{Uri.EscapeDataString(accountLabel)}" +
        $"?secret={secret}&issuer={Uri.EscapeDataString(Issuer)}&algorithm=SHA1&digits={Digits}&period={StepSeconds}";

    /// <summary>Six ASCII digits, nothing else (spaces a user typed are removed first).</summary>
    public static string? NormalizeCode(string? code)
    {
        var compact = code?.Replace(" ", "", StringComparison.Ordinal);
        return compact is { Length: Digits } && compact.All(char.IsAsciiDigit) ? compact : null;
    }

    /// <summary>
    /// The time step <paramref name="code"/> matches at <paramref name="now"/> (±<see cref="AllowedDriftSteps"/>), or null
    /// when it matches none or only a step at or before <paramref name="lastUsedStep"/> (a replay).
    /// </summary>
    public static long? Verify(string base32Secret, string? code, DateTimeOffset now, long? lastUsedStep)
    {
        if (NormalizeCode(code) is not { } digits)
        {
            return null;
        }
        var totp = new Totp(Base32Encoding.ToBytes(base32Secret), StepSeconds, OtpHashMode.Sha1, Digits);
        if (!totp.VerifyTotp(now.UtcDateTime, digits, out var step, new VerificationWindow(AllowedDriftSteps, AllowedDriftSteps)))
        {
            return null;
        }
        return lastUsedStep is { } last && step <= last ? null : step;
    }
}

/// <summary>Pure recovery-code rules: ten codes of 10 characters (50 bits) each, shown once, stored hashed.</summary>
public static class RecoveryCodeRules
{
    public const int Count = 10;
    private const int Length = 10;

    // Crockford-like base32 without look-alikes (no i, l, o, u).
    private const string Alphabet = "0123456789abcdefghjkmnpqrstvwxyz";

    /// <summary>Codes as shown to the user: <c>xxxxx-xxxxx</c>.</summary>
    public static string[] Generate()
    {
        var codes = new string[Count];
        for (var i = 0; i < Count; i++)
        {
            var chars = RandomNumberGenerator.GetItems<char>(Alphabet, Length);
            codes[i] = new string(chars, 0, Length / 2) + "-" + new string(chars, Length / 2, Length / 2);
        }
        return codes;
    }

    /// <summary>Case, spaces and dashes do not matter; anything else that is not in the alphabet makes it no code.</summary>
    public static string? Normalize(string? code)
    {
        var compact = code?.Replace("-", "", StringComparison.Ordinal).Replace(" ", "", StringComparison.Ordinal).ToLowerInvariant();
        return compact is { Length: Length } && compact.All(c => Alphabet.Contains(c, StringComparison.Ordinal)) ? compact : null;
    }

    /// <summary>
    /// SHA-256 of the normalised code. Enough for 50 random bits that are also single-use and throttled like a password
    /// (a slow hash protects low-entropy secrets, which these are not).
    /// </summary>
    public static string? Hash(string? code) =>
        Normalize(code) is { } normalized ? Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes(normalized))) : null;
}

/// <summary>Who gets which roles and methods once the credentials are checked.</summary>
public static class MfaRules
{
    public static readonly string[] PasswordOnly = ["pwd"];

    /// <summary>RFC 8176: password, one-time password, multiple factors. A recovery code is a one-time password too.</summary>
    public static readonly string[] PasswordAndOtp = ["pwd", "otp", "mfa"];

    /// <summary>
    /// The roles a session gets: administrators MUST use MFA, so the admin role is withheld from a session that did not
    /// use a second factor (the user can still enrol, which needs only a signed-in user).
    /// </summary>
    public static string[] SessionRoles(IEnumerable<string> roles, IReadOnlyCollection<string> amr) =>
        [.. roles.Where(r => r != RoleNames.Admin || amr.Contains("mfa")).Order(StringComparer.Ordinal)];
}

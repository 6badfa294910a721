using System.Data.Common;

namespace SecurePlatform.ServiceDefaults.Security;

/// <summary>How a required secret is stored in its setting, so the password part can be checked.</summary>
public enum SecretFormat
{
    /// <summary>The whole value is the secret.</summary>
    Plain,

    /// <summary>Npgsql keyword form; the secret is <c>Password</c>.</summary>
    NpgsqlConnectionString,

    /// <summary>StackExchange.Redis form <c>host:port,password=…</c>.</summary>
    RedisConnectionString,

    /// <summary><c>amqp://user:pass@host:port</c>; the secret is the URI's password.</summary>
    AmqpUri,
}

/// <summary>A setting that must hold a strong secret in Production.</summary>
public sealed record RequiredSecret(string Setting, SecretFormat Format);

/// <summary>A setting that Production must have, and what it is for (named in the refusal).</summary>
public sealed record RequiredSetting(string Setting, string Purpose);

/// <summary>Pure rules: is this secret acceptable for Production?</summary>
public static class SecretPolicy
{
    public const int MinimumLength = 16;

    // Values that ship in samples, images and our own development setup.
    private static readonly HashSet<string> KnownDefaults = new(StringComparer.OrdinalIgnoreCase)
    {
        "postgres", "guest", "changeme", "change-me", "change_me", "password", "passw0rd", "admin", "secret",
        "app", "root", "redis", "rabbitmq", "test", "dev", "development", "default", "example", "123456",
        "12345678", "letmein", "qwerty", "secureplatform", "development-only-secret-do-not-use",
    };

    /// <summary>Returns why <paramref name="raw"/> is unacceptable, or null when it is fine. Never echoes the value.</summary>
    public static string? Check(string? raw, SecretFormat format)
    {
        if (string.IsNullOrWhiteSpace(raw))
        {
            return "is missing";
        }
        var secret = ExtractSecret(raw, format);
        if (string.IsNullOrEmpty(secret))
        {
            return "has no password";
        }
        if (KnownDefaults.Contains(secret))
        {
            return "is a known default value";
        }
        if (secret.Length < MinimumLength)
        {
            return $"is shorter than {MinimumLength} characters";
        }
        if (secret.Distinct().Count() < 6)
        {
            return "is too repetitive to be a real secret";
        }
        return null;
    }

    public static string? ExtractSecret(string raw, SecretFormat format)
    {
        switch (format)
        {
            case SecretFormat.Plain:
                return raw;
            case SecretFormat.NpgsqlConnectionString:
                {
                    var b = new DbConnectionStringBuilder { ConnectionString = raw };
                    return b.TryGetValue("Password", out var pw) ? pw?.ToString() : null;
                }
            case SecretFormat.RedisConnectionString:
                foreach (var part in raw.Split(','))
                {
                    var kv = part.Split('=', 2);
                    if (kv.Length == 2 && kv[0].Trim().Equals("password", StringComparison.OrdinalIgnoreCase))
                    {
                        return kv[1].Trim();
                    }
                }
                return null;
            case SecretFormat.AmqpUri:
                {
                    if (!Uri.TryCreate(raw, UriKind.Absolute, out var uri))
                    {
                        return null;
                    }
                    var userInfo = uri.UserInfo.Split(':', 2);
                    return userInfo.Length == 2 ? Uri.UnescapeDataString(userInfo[1]) : null;
                }
            default:
                throw new ArgumentOutOfRangeException(nameof(format));
        }
    }
}

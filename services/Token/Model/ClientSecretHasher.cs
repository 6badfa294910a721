using System.Security.Cryptography;
using System.Text;

namespace SecurePlatform.Token.Model;

/// <summary>
/// Client secrets are 256-bit random values, so a slow password hash (OpenIddict's default PBKDF2) buys
/// nothing and costs most of a client_credentials grant. A keyed SHA-256 (HMAC) with a server-side key
/// keeps a stolen table useless without the key; comparison is constant-time.
/// <para>
/// Rotation without downtime, twice over. A client may hold several valid secrets at once (the new one
/// while the old one is still deployed): they are stored as space-separated hashes and any one verifies. The
/// hash key itself may be replaced: hashes made with a previous key still verify until that key is retired,
/// and a secret that verifies with one is re-hashed with the current key (<see cref="Upgrade"/>).
/// </para>
/// </summary>
public sealed class ClientSecretHasher(byte[] key, IReadOnlyList<byte[]>? previousKeys = null)
{
    private const string Prefix = "hmac-sha256:";

    /// <summary>Separates the accepted secrets in a descriptor's ClientSecret (cannot occur in a secret).</summary>
    public const char SecretSeparator = '\n';

    private readonly IReadOnlyList<byte[]> _previousKeys = previousKeys ?? [];

    public static ClientSecretHasher FromConfiguredKey(string configuredKey, IEnumerable<string>? previousKeys = null)
        => new(Derive(configuredKey), previousKeys?.Where(k => !string.IsNullOrEmpty(k)).Select(Derive).ToList());

    private static byte[] Derive(string configuredKey) => SHA256.HashData(Encoding.UTF8.GetBytes(configuredKey));

    public string Hash(string secret) => Hash(key, secret);

    /// <summary>The stored form of every secret in <paramref name="secrets"/> (separated by <see cref="SecretSeparator"/>).</summary>
    public string HashAll(string secrets)
        => string.Join(' ', secrets.Split(SecretSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct(StringComparer.Ordinal).Select(Hash));

    public bool Verify(string secret, string stored) => Find(secret, stored).Index >= 0;

    /// <summary>The stored form with the entry <paramref name="secret"/> matched under a previous key re-hashed under the current one; null when nothing changes.</summary>
    public string? Upgrade(string secret, string stored)
    {
        var (index, current) = Find(secret, stored);
        if (index < 0 || current)
        {
            return null;
        }
        var entries = stored.Split(' ');
        entries[index] = Hash(secret);
        return string.Join(' ', entries);
    }

    private (int Index, bool Current) Find(string secret, string stored)
    {
        var entries = stored.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        for (var i = 0; i < entries.Length; i++)
        {
            if (Matches(key, secret, entries[i]))
            {
                return (i, true);
            }
        }
        for (var i = 0; i < entries.Length; i++)
        {
            if (_previousKeys.Any(previous => Matches(previous, secret, entries[i])))
            {
                return (i, false);
            }
        }
        return (-1, false);
    }

    private static string Hash(byte[] key, string secret) => Prefix + Convert.ToBase64String(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(secret)));

    private static bool Matches(byte[] key, string secret, string entry)
    {
        if (!entry.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }
        Span<byte> expected = stackalloc byte[32];
        if (!Convert.TryFromBase64String(entry[Prefix.Length..], expected, out var written) || written != 32)
        {
            return false;
        }
        Span<byte> actual = stackalloc byte[32];
        HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(secret), actual);
        return CryptographicOperations.FixedTimeEquals(actual, expected);
    }

    /// <summary>A new high-entropy client secret (256 bits, base64url).</summary>
    public static string NewSecret() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}

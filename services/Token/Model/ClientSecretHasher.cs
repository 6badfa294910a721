using System.Security.Cryptography;
using System.Text;

namespace SecurePlatform.Token.Model;

/// <summary>
/// Client secrets are 256-bit random values, so a slow password hash (OpenIddict's default PBKDF2) buys
/// nothing and costs most of a client_credentials grant. A keyed SHA-256 (HMAC) with a server-side key
/// keeps a stolen table useless without the key; comparison is constant-time.
/// </summary>
public sealed class ClientSecretHasher(byte[] key)
{
    private const string Prefix = "hmac-sha256:";

    public static ClientSecretHasher FromConfiguredKey(string configuredKey) => new(SHA256.HashData(Encoding.UTF8.GetBytes(configuredKey)));

    public string Hash(string secret) => Prefix + Convert.ToBase64String(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(secret)));

    public bool Verify(string secret, string stored)
    {
        if (!stored.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }
        Span<byte> expected = stackalloc byte[32];
        if (!Convert.TryFromBase64String(stored[Prefix.Length..], expected, out var written) || written != 32)
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

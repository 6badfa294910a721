using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace SecurePlatform.Token.Model;

/// <summary>
/// Refresh tokens are opaque: <c>base64url(sid | secret | tag)</c> — the session id, 256 random bits, and a
/// truncated HMAC-SHA256 over the client id, sid and secret. The session row holds the SHA-256 of the current
/// secret, so one statement by primary key redeems a token, and tokendb alone (a backup, a read replica) cannot
/// produce a usable one. The tag is what lets a presented token be trusted as a member of a session's family
/// before the database is asked: without it, anyone who knows a sid (it is in every access token) could present a
/// made-up secret and trip reuse detection, revoking someone else's session. It is bound to the client the token
/// was issued to, so another client's presentation fails before the database too.
/// </summary>
public static class OpaqueRefreshToken
{
    private const int SidLength = 16;
    private const int SecretLength = 32;
    private const int TagLength = 16;
    private const int ByteLength = SidLength + SecretLength + TagLength;

    /// <summary>The length of every token (base64url, no padding).</summary>
    public static readonly int Length = Base64Url.GetEncodedLength(ByteLength);

    /// <summary>A new token of session <paramref name="sid"/> for <paramref name="clientId"/>, and the hash to store.</summary>
    public static (string Token, byte[] Hash) Create(ReadOnlySpan<byte> key, Guid sid, string clientId)
    {
        Span<byte> token = stackalloc byte[ByteLength];
        sid.TryWriteBytes(token[..SidLength], bigEndian: true, out _);
        RandomNumberGenerator.Fill(token.Slice(SidLength, SecretLength));
        Tag(key, clientId, token[..(SidLength + SecretLength)], token[(SidLength + SecretLength)..]);
        return (Base64Url.EncodeToString(token), SHA256.HashData(token.Slice(SidLength, SecretLength)));
    }

    /// <summary>
    /// Reads <paramref name="token"/> presented by <paramref name="clientId"/>: its sid and the hash of its secret, when
    /// it is well formed and its tag holds for that client under <paramref name="key"/>.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> key, string? token, string? clientId, out Guid sid, out byte[] hash)
    {
        sid = Guid.Empty;
        hash = [];
        Span<byte> bytes = stackalloc byte[ByteLength];
        if (token is null || clientId is null || token.Length != Length
            || Base64Url.DecodeFromChars(token, bytes, out var read, out var written) != System.Buffers.OperationStatus.Done
            || read != token.Length || written != ByteLength)
        {
            return false;
        }
        Span<byte> expected = stackalloc byte[TagLength];
        Tag(key, clientId, bytes[..(SidLength + SecretLength)], expected);
        if (!CryptographicOperations.FixedTimeEquals(expected, bytes[(SidLength + SecretLength)..]))
        {
            return false;
        }
        sid = new Guid(bytes[..SidLength], bigEndian: true);
        hash = SHA256.HashData(bytes.Slice(SidLength, SecretLength));
        return true;
    }

    private static void Tag(ReadOnlySpan<byte> key, string clientId, ReadOnlySpan<byte> sidAndSecret, Span<byte> tag)
    {
        // client id, then a 0 byte (client ids are printable), then sid | secret: no two inputs share an encoding
        var clientBytes = Encoding.UTF8.GetByteCount(clientId);
        Span<byte> message = clientBytes <= 256 ? stackalloc byte[clientBytes + 1 + sidAndSecret.Length] : new byte[clientBytes + 1 + sidAndSecret.Length];
        Encoding.UTF8.GetBytes(clientId, message);
        message[clientBytes] = 0;
        sidAndSecret.CopyTo(message[(clientBytes + 1)..]);
        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        HMACSHA256.HashData(key, message, mac);
        mac[..TagLength].CopyTo(tag);
    }
}

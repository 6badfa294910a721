using System.Buffers.Binary;

namespace SecurePlatform.ServiceDefaults.Auth;

/// <summary>
/// The revocation model of the architecture, in one place: Redis keys, channel, message format and the
/// pure decision. token-service writes; every service reads.
/// </summary>
public static class SessionRevocation
{
    public const string Channel = "revocations";

    public static string SidKey(string sid) => "revoked:sid:" + sid;

    /// <summary>
    /// Unix ms T, written by token-service (no expiry): Redis holds every revocation committed before T. Written
    /// after each replay of tokendb's record and every second while nothing is pending. Absent means Redis lost
    /// them (restarted empty, failed over) and token-service has not put them back; a service that lost Redis
    /// at time F trusts "no key" again only once T ≥ F. Until then a check says it cannot tell
    /// (<see cref="RevocationState.Unknown"/>) instead of "not revoked".
    /// </summary>
    public const string CompleteKey = "revocations:complete";

    public static string SubKey(string sub) => "revoked:sub:" + sub;

    public static string SidMessage(string sid) => "sid:" + sid;

    /// <summary>
    /// The set of revoked signing key ids (no expiry: there are few, and a revoked key never comes back). A service
    /// caches JWKS for hours, so taking a key out of JWKS alone would not stop its tokens; this list does.
    /// </summary>
    public const string SigningKeysKey = "revoked:kids";

    public static string SigningKeyMessage(string kid) => "kid:" + kid;

    public static string SubMessage(string sub, long revokedAtMs) => $"sub:{revokedAtMs}:{sub}";

    /// <summary>
    /// A session is revoked when its sid was revoked, or when all of its user's sessions were revoked
    /// after the session began. Millisecond precision: a sign-in in the same second as "sign out
    /// everywhere" but after it still works.
    /// </summary>
    public static bool IsRevoked(bool sidRevoked, long? subRevokedAtMs, long sessionCreatedMs)
        => sidRevoked || (subRevokedAtMs is { } revokedAt && revokedAt > sessionCreatedMs);

    /// <summary>The creation time carried by a UUIDv7 session id (its first 48 bits); 0 when it is not one.</summary>
    public static long SessionCreatedMs(string sid)
    {
        if (!Guid.TryParse(sid, out var guid) || guid.Version != 7)
        {
            return 0;
        }
        Span<byte> bytes = stackalloc byte[16];
        guid.TryWriteBytes(bytes, bigEndian: true, out _);
        return (long)(BinaryPrimitives.ReadUInt64BigEndian(bytes) >> 16);
    }
}

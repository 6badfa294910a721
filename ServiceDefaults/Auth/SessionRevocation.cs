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
    /// Written by token-service (no expiry) once Redis holds every revocation of its record. Absent means Redis
    /// lost them (it restarted empty, or failed over) and token-service has not put them back yet: until then
    /// a check cannot tell, and says so (<see cref="RevocationState.Unknown"/>) instead of "not revoked".
    /// </summary>
    public const string CompleteKey = "revocations:complete";

    public static string SubKey(string sub) => "revoked:sub:" + sub;

    public static string SidMessage(string sid) => "sid:" + sid;

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

using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;

namespace SecurePlatform.Audit.Model;

/// <summary>
/// The opaque page cursor: the sequence the next page starts below, versioned and base64url-encoded.
/// Clients must treat it as opaque; it carries no filter, so a page is always "rows older than the last one seen".
/// </summary>
public static class AuditCursor
{
    private const byte Version = 1;

    public static string Encode(long beforeSequence)
    {
        Span<byte> bytes = stackalloc byte[9];
        bytes[0] = Version;
        BinaryPrimitives.WriteInt64BigEndian(bytes[1..], beforeSequence);
        return Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
    }

    public static bool TryDecode(string? cursor, [NotNullWhen(true)] out long? beforeSequence)
    {
        beforeSequence = null;
        if (string.IsNullOrEmpty(cursor) || cursor.Length != 12)
        {
            return false;
        }
        var base64 = cursor.Replace('-', '+').Replace('_', '/');
        Span<byte> bytes = stackalloc byte[9];
        if (!Convert.TryFromBase64String(base64, bytes, out var written) || written != 9 || bytes[0] != Version)
        {
            return false;
        }
        var value = BinaryPrimitives.ReadInt64BigEndian(bytes[1..]);
        if (value < 1 || Encode(value) != cursor)
        {
            return false;
        }
        beforeSequence = value;
        return true;
    }
}

namespace SecurePlatform.Audit.Model;

/// <summary>
/// How a user's own activity (<c>GET /audit/me</c>) shows who acted: by role, never by identity, and with network
/// data (IP address, user agent) only when the user acted. An administrator's or an unknown caller's address and
/// browser are that person's data, not the account owner's; the full envelope stays in the admin API.
/// </summary>
public static class OwnActivity
{
    public const string You = "you";
    public const string Administrator = "an administrator";
    public const string TheSystem = "the system";

    /// <summary>No one is named: a failed sign-in attempt, a reset request for the address.</summary>
    public const string Someone = "someone";

    public static string ActorRole(string? actor, string subject)
    {
        if (actor is null)
        {
            return Someone;
        }
        if (string.Equals(actor, subject, StringComparison.Ordinal))
        {
            return You;
        }
        // Account ids are UUIDs (auth-service's User.NewId); clients and services act under their client ids.
        // Another account can act on this one only through the admin API.
        return Guid.TryParseExact(actor, "D", out _) ? Administrator : TheSystem;
    }

    public static View Of(AuditEvent row, string subject)
    {
        var role = ActorRole(row.Actor, subject);
        return role == You ? new View(role, true, row.Ip, row.UserAgent) : new View(role, false, null, null);
    }

    public sealed record View(string ActorRole, bool ByYou, string? IpAddress, string? UserAgent);
}

namespace SecurePlatform.Token.Model;

/// <summary>A user's remembered consent: this client may have these scopes without asking again.</summary>
public sealed class Grant
{
    public Guid Id { get; set; }

    public string Subject { get; set; } = "";

    public string ClientId { get; set; } = "";

    public string[] Scopes { get; set; } = [];

    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>Whether every scope of a request is covered.</summary>
    public bool Covers(IEnumerable<string> requested) => requested.All(scope => Scopes.Contains(scope, StringComparer.Ordinal));
}

/// <summary>
/// An authorization code that has been redeemed. Codes are self-contained (no token storage), so this row is
/// what makes a second redemption detectable: it then revokes the session the first one opened.
/// </summary>
public sealed class RedeemedCode
{
    public Guid CodeId { get; set; }

    public Guid SessionId { get; set; }

    public DateTimeOffset RedeemedAt { get; set; }

    /// <summary>Kept as long as a code could still be presented; older rows may be deleted.</summary>
    public DateTimeOffset ExpiresAt { get; set; }
}

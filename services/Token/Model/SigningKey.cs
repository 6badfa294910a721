namespace SecurePlatform.Token.Model;

/// <summary>A key of token-service, stored encrypted (ASP.NET Core Data Protection).</summary>
public sealed class SigningKey
{
    /// <summary>The <c>kid</c>.</summary>
    public string Id { get; set; } = "";

    /// <summary><c>signing</c> (certificate with RS256/PS256/ES256 key) or <c>encryption</c> (AES key for refresh tokens).</summary>
    public string Use { get; set; } = "";

    public string Algorithm { get; set; } = "";

    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>When it starts signing; before that it is only published.</summary>
    public DateTimeOffset ActivatesAt { get; set; }

    /// <summary>
    /// Set by an emergency revocation (the key is thought compromised): never published or used again, and
    /// every service refuses the tokens it signed.
    /// </summary>
    public DateTimeOffset? RevokedAt { get; set; }

    /// <summary>Protected key material: PKCS#12 for signing keys, raw bytes for encryption keys.</summary>
    public byte[] ProtectedMaterial { get; set; } = [];
}

/// <summary>
/// Pure rotation rules. Keys are ordered by activation; the active key is the newest already activated.
/// A successor is created <see cref="TokenOptions.KeyAnnouncementPeriod"/> before it activates, so
/// JWKS carries it before it signs; a retired key stays published until every token it signed has expired.
/// </summary>
public static class KeyRotationPlan
{
    public static SigningKey? Active(IReadOnlyList<SigningKey> keys, DateTimeOffset now)
        => keys.Where(k => k.ActivatesAt <= now).MaxBy(k => k.ActivatesAt);

    /// <summary>When a successor must activate, or null when none is needed yet (one is already scheduled).</summary>
    public static DateTimeOffset? SuccessorDue(IReadOnlyList<SigningKey> keys, DateTimeOffset now, TimeSpan period, TimeSpan announcement)
    {
        var active = Active(keys, now);
        if (active is null)
        {
            return keys.Count == 0 ? now : null; // nothing at all: the first key activates at once
        }
        if (keys.Any(k => k.ActivatesAt > active.ActivatesAt))
        {
            return null;
        }
        var activation = active.ActivatesAt + period;
        return now >= activation - announcement ? (activation > now ? activation : now) : null;
    }

    /// <summary>Keys to publish: scheduled ones, the active one, and retired ones that may still verify live tokens.</summary>
    public static IReadOnlyList<SigningKey> Published(IReadOnlyList<SigningKey> keys, DateTimeOffset now, TimeSpan tokenLifetime)
    {
        var ordered = keys.OrderBy(k => k.ActivatesAt).ToList();
        var result = new List<SigningKey>();
        for (var i = 0; i < ordered.Count; i++)
        {
            var retiredAt = i + 1 < ordered.Count && ordered[i + 1].ActivatesAt <= now ? ordered[i + 1].ActivatesAt : (DateTimeOffset?)null;
            if (retiredAt is null || retiredAt.Value + tokenLifetime > now)
            {
                result.Add(ordered[i]);
            }
        }
        return result;
    }
}

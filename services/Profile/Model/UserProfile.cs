namespace SecurePlatform.Profile.Model;

/// <summary>The person behind an account: one per <c>sub</c>. Every value is stored as validated and normalised.</summary>
public sealed class UserProfile
{
    /// <summary>The account's <c>sub</c> (auth_id).</summary>
    public string Id { get; set; } = "";

    public string DisplayName { get; set; } = "";

    /// <summary>Sanitised HTML (<see cref="BioRules"/>), never what the client sent.</summary>
    public string? Bio { get; set; }

    /// <summary>E.164.</summary>
    public string? Phone { get; set; }

    /// <summary>ISO 3166-1 alpha-2, upper case: the address's country and the phone's default region.</summary>
    public string? Country { get; set; }

    public List<string> AddressLines { get; set; } = [];

    public string? Locality { get; set; }

    public string? Region { get; set; }

    public string? PostalCode { get; set; }

    /// <summary>BCP 47, canonical case.</summary>
    public string? Locale { get; set; }

    /// <summary>IANA time zone id.</summary>
    public string? TimeZone { get; set; }

    /// <summary>An absolute https URL.</summary>
    public string? Website { get; set; }

    /// <summary>SHA-256 of the stored 256 px avatar; null without one.</summary>
    public string? AvatarHash { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }
}

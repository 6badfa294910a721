namespace SecurePlatform.Profile.Model;

/// <summary>The person behind an account: one per <c>sub</c>.</summary>
public sealed class UserProfile
{
    /// <summary>The account's <c>sub</c> (auth_id).</summary>
    public string Id { get; set; } = "";

    public string DisplayName { get; set; } = "";

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }
}

/// <summary>Pure validation rules for profile fields.</summary>
public static class ProfileRules
{
    public const int DisplayNameMaxLength = 100;

    /// <summary>Null when valid, else the rule that failed.</summary>
    public static string? CheckDisplayName(string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return "Display name is required.";
        }
        if (value.Length > DisplayNameMaxLength)
        {
            return $"Display name must be at most {DisplayNameMaxLength} characters.";
        }
        if (value.Any(c => char.IsControl(c) || c is '\u2028' or '\u2029'))
        {
            return "Display name must not contain control characters.";
        }
        if (value != value.Trim())
        {
            return "Display name must not start or end with white space.";
        }
        return null;
    }
}

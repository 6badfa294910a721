using System.Diagnostics.CodeAnalysis;
using System.Text.RegularExpressions;

namespace SecurePlatform.Auth.Model;

/// <summary>
/// The account identifier. Normalisation: trim surrounding white space, refuse anything outside ASCII
/// (checked before lower-casing, so look-alikes such as the Kelvin sign or full-width letters are refused,
/// never merged into an ASCII address), lower-case, then check RFC 5321/5322 dot-atom syntax with a DNS
/// domain name: at most 254 characters in all, 64 in the local part, 63 per label, an alphabetic TLD.
/// Local parts are treated case-insensitively (what every mail provider does), so <c>Alice@Example.com</c>
/// and <c>alice@example.com</c> are one account. Quoted local parts, IP literals and internationalised
/// addresses are not accepted.
/// </summary>
public static partial class EmailAddress
{
    public const int MaxLength = 254;
    public const int MaxLocalPartLength = 64;

    public static class Rules
    {
        public const string Required = "required";
        public const string MaxLength = "maxLength";
        public const string Format = "format";
    }

    public static bool TryNormalize(string? raw, [NotNullWhen(true)] out string? normalized, [NotNullWhen(false)] out RuleViolation? violation)
    {
        normalized = null;
        var trimmed = raw?.Trim();
        if (string.IsNullOrEmpty(trimmed))
        {
            violation = new RuleViolation(Rules.Required, "An email address is required.");
            return false;
        }
        if (trimmed.Length > MaxLength)
        {
            violation = new RuleViolation(Rules.MaxLength, $"The email address must be at most {MaxLength} characters long.");
            return false;
        }
        if (!System.Text.Ascii.IsValid(trimmed))
        {
            violation = new RuleViolation(Rules.Format, "The email address must be a valid address in ASCII characters.");
            return false;
        }
        var lower = trimmed.ToLowerInvariant();
        var at = lower.LastIndexOf('@');
        if (at < 1 || at > MaxLocalPartLength || !Syntax().IsMatch(lower))
        {
            violation = new RuleViolation(Rules.Format, "The email address is not valid.");
            return false;
        }
        normalized = lower;
        violation = null;
        return true;
    }

    /// <summary>The part before the <c>@</c> of a normalised address.</summary>
    public static string LocalPart(string normalized) => normalized[..normalized.LastIndexOf('@')];

    /// <summary>The part after the <c>@</c> of a normalised address.</summary>
    public static string Domain(string normalized) => normalized[(normalized.LastIndexOf('@') + 1)..];

    // dot-atom local part @ LDH labels . alphabetic TLD; \z, not $, so a trailing newline cannot slip through.
    [GeneratedRegex(
        @"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*@([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}\z",
        RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 100)]
    private static partial Regex Syntax();
}

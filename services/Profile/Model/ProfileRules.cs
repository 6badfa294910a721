using System.Text.RegularExpressions;
using SecurePlatform.ServiceDefaults.Validation;

namespace SecurePlatform.Profile.Model;

/// <summary>Pure rules for the simple profile fields. Each check returns null when valid, else (rule code, message).</summary>
public static partial class ProfileRules
{
    public const int DisplayNameMaxLength = 100;
    public const int AddressLineMaxLength = 100;
    public const int AddressLinesMax = 3;
    public const int LocalityMaxLength = 100;
    public const int RegionMaxLength = 100;
    public const int LocaleMaxLength = 35;
    public const int TimeZoneMaxLength = 64;
    public const int WebsiteMaxLength = 2048;

    /// <summary>language[-Script][-REGION] (RFC 5646's common subset), then it must be a locale ICU knows.</summary>
    public const string LocalePattern = "^[A-Za-z]{2,3}(-[A-Za-z]{4})?(-([A-Za-z]{2}|[0-9]{3}))?$";

    /// <summary>Null when valid. The same rule the validator applies, for callers without a request (tests, seeds).</summary>
    public static (string Rule, string Message)? CheckDisplayName(string? value) =>
        TextRules.Check(TextRules.Normalize(value), DisplayNameMaxLength);

    /// <summary>
    /// The canonical tag (<c>en-gb</c> → <c>en-GB</c>), or the failed rule. Checked by syntax (language, optional
    /// script, optional region), the region against ISO 3166-1 (<c>unknownRegion</c>) and the language against the
    /// languages ICU has locale data for (<c>unknownLanguage</c>: <c>xx</c>, <c>qaa</c>; profile-service runs with ICU).
    /// </summary>
    public static (string? Canonical, string? Rule) CheckLocale(string value)
    {
        if (value.Length > LocaleMaxLength || !LocaleRegex().IsMatch(value))
        {
            return (null, "bcp47");
        }
        var parts = value.Split('-');
        if (!IsKnownLanguage(parts[0].ToLowerInvariant()))
        {
            return (null, "unknownLanguage");
        }
        var canonical = new List<string> { parts[0].ToLowerInvariant() };
        foreach (var part in parts.Skip(1))
        {
            if (part.Length == 4)
            {
                canonical.Add(char.ToUpperInvariant(part[0]) + part[1..].ToLowerInvariant());
            }
            else if (part.Length == 2 && !AddressRules.IsCountryCode(part.ToUpperInvariant()))
            {
                return (null, "unknownRegion");
            }
            else
            {
                canonical.Add(part.ToUpperInvariant());
            }
        }
        return (string.Join('-', canonical), null);
    }

    /// <summary>A language ICU knows (predefined cultures only: an unknown name is not made up on the fly).</summary>
    public static bool IsKnownLanguage(string language)
    {
        try
        {
            return System.Globalization.CultureInfo.GetCultureInfo(language, predefinedOnly: true) is { } culture
                && culture.TwoLetterISOLanguageName.Length > 0 && culture.Name.Length > 0;
        }
        catch (System.Globalization.CultureNotFoundException)
        {
            return false;
        }
    }

    /// <summary>An IANA zone id as the tz database spells it (Windows ids, offsets and abbreviations are refused).</summary>
    public static bool IsIanaTimeZone(string value) =>
        value.Length <= TimeZoneMaxLength
        && TimeZoneInfo.TryFindSystemTimeZoneById(value, out var zone)
        && zone.HasIanaId
        && zone.Id == value;

    /// <summary>An absolute https URL with a host, no credentials.</summary>
    public static string? CheckWebsite(string value)
    {
        if (value.Length > WebsiteMaxLength || !Uri.TryCreate(value, UriKind.Absolute, out var uri))
        {
            return "url";
        }
        if (uri.Scheme != Uri.UriSchemeHttps && !uri.IsFile)
        {
            return "httpsOnly";
        }
        return uri.IsFile || uri.IsUnc || string.IsNullOrEmpty(uri.Host) || !string.IsNullOrEmpty(uri.UserInfo) ? "url" : null;
    }

    public static bool IsCountryCode(string value) => AddressRules.IsCountryCode(value);

    [GeneratedRegex(LocalePattern, RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 100)]
    private static partial Regex LocaleRegex();
}

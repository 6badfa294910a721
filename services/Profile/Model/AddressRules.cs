using System.Collections.Frozen;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace SecurePlatform.Profile.Model;

/// <summary>
/// Per-country postal address rules from ONE data file, <c>address-data.json</c> (embedded; its source and date
/// are in the file): which countries need a region, whether a postal code is required, and its pattern.
/// No package in the registry maintains these formats for .NET, so the data is ours to refresh.
/// </summary>
public static class AddressRules
{
    public const int PostalCodeMaxLength = 16;

    public sealed record CountryRule(Regex? PostalCode, bool PostalCodeRequired, bool RegionRequired);

    public static string Source { get; }

    public static string Retrieved { get; }

    private static readonly FrozenDictionary<string, CountryRule> Countries;

    private static readonly FrozenSet<string> CountryCodes;

    private static readonly Regex FreeForm = new("^[A-Z0-9][A-Z0-9 -]{0,15}$", RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(100));

    static AddressRules()
    {
        using var stream = typeof(AddressRules).Assembly.GetManifestResourceStream("address-data.json")
            ?? throw new InvalidOperationException("address-data.json is not embedded.");
        using var document = JsonDocument.Parse(stream);
        CountryCodes = document.RootElement.GetProperty("iso3166Alpha2").GetProperty("codes").EnumerateArray().Select(c => c.GetString()!).ToFrozenSet();
        var root = document.RootElement.GetProperty("postalCodes");
        Source = root.GetProperty("source").GetString()!;
        Retrieved = root.GetProperty("retrieved").GetString()!;
        Countries = root.GetProperty("countries").EnumerateObject().ToFrozenDictionary(
            c => c.Name,
            c => new CountryRule(
                c.Value.GetProperty("postalCode").GetString() is { } pattern
                    ? new Regex($"^(?:{pattern})$", RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(100))
                    : null,
                c.Value.GetProperty("postalCodeRequired").GetBoolean(),
                c.Value.GetProperty("regionRequired").GetBoolean()));
    }

    /// <summary>An officially assigned ISO 3166-1 alpha-2 code, upper case (<c>UK</c> is not one: <c>GB</c> is).</summary>
    public static bool IsCountryCode(string value) => CountryCodes.Contains(value);

    public static IReadOnlyCollection<string> CountriesWithFormats => Countries.Keys;

    public static bool RegionRequired(string country) => Countries.TryGetValue(country, out var rule) && rule.RegionRequired;

    /// <summary>The postal code as stored (trimmed, upper case), or the failed rule: required, notUsed, format.</summary>
    public static (string? Normalized, string? Rule) CheckPostalCode(string country, string? postalCode)
    {
        var value = string.IsNullOrWhiteSpace(postalCode) ? null : postalCode.Trim().ToUpperInvariant();
        Countries.TryGetValue(country, out var rule);
        if (value is null)
        {
            return rule is { PostalCodeRequired: true } ? (null, "required") : (null, null);
        }
        if (value.Length > PostalCodeMaxLength)
        {
            return (null, "format");
        }
        if (rule is { PostalCode: null })
        {
            return (null, "notUsed");
        }
        var pattern = rule?.PostalCode ?? FreeForm;
        try
        {
            return pattern.IsMatch(value) ? (value, null) : (null, "format");
        }
        catch (RegexMatchTimeoutException)
        {
            return (null, "format");
        }
    }
}

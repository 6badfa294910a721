using SecurePlatform.ServiceDefaults.Validation;

namespace SecurePlatform.Profile.Model;

/// <summary>Applies a validated request to a profile in its stored form; returns the names of the fields that changed.</summary>
public static class ProfileChanges
{
    public static List<string> Apply(UserProfile profile, UpdateProfileRequest request)
    {
        var changed = new List<string>();
        void Set<T>(string field, T current, T next, Action<T> assign)
        {
            if (!EqualityComparer<T>.Default.Equals(current, next))
            {
                assign(next);
                changed.Add(field);
            }
        }

        Set("displayName", profile.DisplayName, TextRules.Normalize(request.DisplayName)!, v => profile.DisplayName = v);
        var bio = request.Bio is null ? null : BioRules.Sanitize(TextRules.Normalize(request.Bio)!);
        Set("bio", profile.Bio, string.IsNullOrEmpty(bio) ? null : bio, v => profile.Bio = v);
        var address = request.Address;
        var phone = request.Phone is null ? null : PhoneRules.Parse(request.Phone, address?.Country).E164;
        Set("phone", profile.Phone, phone, v => profile.Phone = v);
        var lines = address?.Lines?.Select(l => TextRules.Normalize(l)!).ToList() ?? [];
        var addressChanged = profile.Country != address?.Country
            || !profile.AddressLines.SequenceEqual(lines)
            || profile.Locality != TextRules.Normalize(address?.Locality)
            || profile.Region != NullIfEmpty(TextRules.Normalize(address?.Region))
            || profile.PostalCode != (address?.Country is { } c ? AddressRules.CheckPostalCode(c, address.PostalCode).Normalized : null);
        if (addressChanged)
        {
            profile.Country = address?.Country;
            profile.AddressLines = lines;
            profile.Locality = TextRules.Normalize(address?.Locality);
            profile.Region = NullIfEmpty(TextRules.Normalize(address?.Region));
            profile.PostalCode = address?.Country is { } country ? AddressRules.CheckPostalCode(country, address.PostalCode).Normalized : null;
            changed.Add("address");
        }
        Set("locale", profile.Locale, request.Locale is null ? null : ProfileRules.CheckLocale(request.Locale).Canonical, v => profile.Locale = v);
        Set("timeZone", profile.TimeZone, request.TimeZone, v => profile.TimeZone = v);
        Set("website", profile.Website, request.Website is null ? null : new Uri(request.Website).AbsoluteUri, v => profile.Website = v);
        return changed;
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
}

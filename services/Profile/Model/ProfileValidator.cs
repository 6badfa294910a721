using FluentValidation;
using SecurePlatform.ServiceDefaults.Validation;
using static SecurePlatform.ServiceDefaults.Validation.RuleBuilderExtensions;

namespace SecurePlatform.Profile.Model;

/// <summary>The body of <c>PUT /profiles/me</c>: the whole profile (a member left out or null is cleared).</summary>
public sealed class UpdateProfileRequest
{
    /// <summary>Required; at most 100 code points, NFC, no control or invisible format characters.</summary>
    public string? DisplayName { get; init; }

    /// <summary>Limited HTML (p, br, em, strong, ul, ol, li, a href=https:…); stored sanitised; at most 1000 characters of text.</summary>
    public string? Bio { get; init; }

    /// <summary>A phone number, national for the address country or international (+…).</summary>
    public string? Phone { get; init; }

    public PostalAddress? Address { get; init; }

    /// <summary>A BCP 47 language tag, e.g. <c>en-GB</c>.</summary>
    public string? Locale { get; init; }

    /// <summary>An IANA time zone, e.g. <c>Europe/Berlin</c>.</summary>
    public string? TimeZone { get; init; }

    /// <summary>An absolute https: URL.</summary>
    public string? Website { get; init; }
}

public sealed class PostalAddress
{
    /// <summary>ISO 3166-1 alpha-2, upper case; also the phone number's default region.</summary>
    public string? Country { get; init; }

    /// <summary>Street lines, 1 to 3.</summary>
    public IReadOnlyList<string>? Lines { get; init; }

    public string? Locality { get; init; }

    /// <summary>State, province, prefecture…: required where the country has them in its addresses.</summary>
    public string? Region { get; init; }

    public string? PostalCode { get; init; }
}

public sealed class UpdateProfileRequestValidator : AbstractValidator<UpdateProfileRequest>
{
    public UpdateProfileRequestValidator()
    {
        RuleFor(r => r.DisplayName).PlatformText(ProfileRules.DisplayNameMaxLength);
        RuleFor(r => r.Bio).Documented(s =>
        {
            s.MaxLength = BioRules.MaxInputLength;
            s.Description = $"Limited HTML: p, br, em, strong, ul, ol, li, a (href https: only; rel=\"{BioRules.Rel}\" added). Anything else is removed, not refused. At most {BioRules.MaxTextLength} characters of visible text.";
        });
        RuleFor(r => r.Bio).Custom((bio, context) =>
        {
            if (bio is null)
            {
                return;
            }
            if (bio.Length > BioRules.MaxInputLength)
            {
                context.AddFailure(Failure(context.PropertyPath, "maxLength", $"At most {BioRules.MaxInputLength} characters of HTML."));
                return;
            }
            var text = BioRules.PlainText(BioRules.Sanitize(TextRules.Normalize(bio)!));
            if (TextRules.Check(text.Trim(), BioRules.MaxTextLength, required: false, multiLine: true) is { } failure)
            {
                context.AddFailure(Failure(context.PropertyPath, failure.Rule, failure.Message));
            }
        });
        RuleFor(r => r.Phone).Documented(s =>
        {
            s.MaxLength = PhoneRules.MaxInputLength;
            s.Description = "National form for address.country, or international (+...). Stored as E.164. Rules: notANumber, missingRegion, tooShort, tooLong, invalidForRegion.";
        });
        RuleFor(r => r.Phone).Custom((phone, context) =>
        {
            if (phone is null)
            {
                return;
            }
            var country = context.InstanceToValidate.Address?.Country;
            var (_, rule, message) = PhoneRules.Parse(phone, country is not null && ProfileRules.IsCountryCode(country) ? country : null);
            if (rule is not null)
            {
                context.AddFailure(Failure(context.PropertyPath, rule, message!));
            }
        });
        RuleFor(r => r.Locale).Documented(s => { s.Pattern = ProfileRules.LocalePattern; s.MaxLength = ProfileRules.LocaleMaxLength; });
        RuleFor(r => r.Locale).Custom((locale, context) =>
        {
            if (locale is not null && ProfileRules.CheckLocale(locale).Rule is { } rule)
            {
                context.AddFailure(Failure(context.PropertyPath, rule, "Give a BCP 47 language tag such as en-GB or pt-BR."));
            }
        });
        RuleFor(r => r.TimeZone).Documented(s => { s.MaxLength = ProfileRules.TimeZoneMaxLength; s.Description = "An IANA time zone id as the tz database spells it, e.g. Europe/Berlin."; });
        RuleFor(r => r.TimeZone).Custom((zone, context) =>
        {
            if (zone is not null && !ProfileRules.IsIanaTimeZone(zone))
            {
                context.AddFailure(Failure(context.PropertyPath, "ianaTimeZone", "Give an IANA time zone such as Europe/Berlin."));
            }
        });
        RuleFor(r => r.Website).Documented(s => { s.Format = "uri"; s.Pattern = "^https://"; s.MaxLength = ProfileRules.WebsiteMaxLength; });
        RuleFor(r => r.Website).Custom((website, context) =>
        {
            if (website is not null && ProfileRules.CheckWebsite(website) is { } rule)
            {
                context.AddFailure(Failure(context.PropertyPath, rule, rule == "httpsOnly" ? "Only https: addresses are accepted." : "Give an absolute https: URL."));
            }
        });
        RuleFor(r => r.Address!).SetValidator(new PostalAddressValidator()).When(r => r.Address is not null);
    }
}

public sealed class PostalAddressValidator : AbstractValidator<PostalAddress>
{
    public PostalAddressValidator()
    {
        RuleFor(a => a.Country).Documented(s => { s.Pattern = "^[A-Z]{2}$"; s.Description = "ISO 3166-1 alpha-2, upper case."; });
        RuleFor(a => a.Country).Custom((country, context) =>
        {
            if (country is null || !ProfileRules.IsCountryCode(country))
            {
                context.AddFailure(Failure(context.PropertyPath, country is null ? "required" : "iso3166", "Give the country as an ISO 3166-1 alpha-2 code, e.g. DE."));
            }
        });
        RuleFor(a => a.Lines).Documented(s => { s.MinItems = 1; s.MaxItems = ProfileRules.AddressLinesMax; });
        RuleFor(a => a.Lines).Custom((lines, context) =>
        {
            if (lines is null || lines.Count is 0 or > ProfileRules.AddressLinesMax)
            {
                context.AddFailure(Failure(context.PropertyPath, lines is null or { Count: 0 } ? "required" : "maxItems", $"Give 1 to {ProfileRules.AddressLinesMax} address lines."));
            }
        });
        RuleForEach(a => a.Lines).PlatformText(ProfileRules.AddressLineMaxLength);
        RuleFor(a => a.Locality).PlatformText(ProfileRules.LocalityMaxLength);
        RuleFor(a => a.Region).PlatformText(ProfileRules.RegionMaxLength, required: false);
        RuleFor(a => a.Region).Custom((region, context) =>
        {
            var country = context.InstanceToValidate.Country;
            if (string.IsNullOrWhiteSpace(region) && country is not null && AddressRules.RegionRequired(country))
            {
                context.AddFailure(Failure(context.PropertyPath, "required", $"Addresses in {country} need a region (state, province…)."));
            }
        });
        RuleFor(a => a.PostalCode).Documented(s =>
        {
            s.MaxLength = AddressRules.PostalCodeMaxLength;
            s.Description = $"Checked against the country's format ({AddressRules.Source}, {AddressRules.Retrieved}); required where the country requires it. Rules: required, notUsed, format.";
        });
        RuleFor(a => a.PostalCode).Custom((postalCode, context) =>
        {
            var country = context.InstanceToValidate.Country;
            if (country is null || !ProfileRules.IsCountryCode(country))
            {
                return; // the country's own error says it
            }
            var rule = AddressRules.CheckPostalCode(country, postalCode).Rule;
            if (rule is not null)
            {
                context.AddFailure(Failure(context.PropertyPath, rule, rule switch
                {
                    "required" => $"Addresses in {country} need a postal code.",
                    "notUsed" => $"{country} has no postal codes.",
                    _ => $"Not a postal code of {country}.",
                }));
            }
        });
    }
}

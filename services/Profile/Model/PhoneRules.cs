using PhoneNumbers;

namespace SecurePlatform.Profile.Model;

/// <summary>
/// Phone numbers by libphonenumber (Google's metadata): parsed against the profile's country as default region
/// (a number in international form, <c>+…</c>, is accepted whatever the country), stored as E.164.
/// </summary>
public static class PhoneRules
{
    public const int MaxInputLength = 40;

    private static readonly PhoneNumberUtil Util = PhoneNumberUtil.GetInstance();

    public sealed record Formats(string E164, string National, string International, string Type, string Region);

    /// <summary>The E.164 form, or the rule that failed: notANumber, missingRegion, tooShort, tooLong, invalidForRegion.</summary>
    public static (string? E164, string? Rule, string? Message) Parse(string input, string? defaultRegion)
    {
        if (input.Length > MaxInputLength)
        {
            return (null, "tooLong", $"At most {MaxInputLength} characters.");
        }
        PhoneNumber number;
        try
        {
            number = Util.Parse(input, defaultRegion ?? "ZZ");
        }
        catch (NumberParseException ex)
        {
            return ex.ErrorType switch
            {
                ErrorType.INVALID_COUNTRY_CODE => (null, "missingRegion", "Give the number in international form (+…) or set the address country first."),
                ErrorType.TOO_SHORT_NSN or ErrorType.TOO_SHORT_AFTER_IDD => (null, "tooShort", "The number is too short."),
                ErrorType.TOO_LONG => (null, "tooLong", "The number is too long."),
                _ => (null, "notANumber", "This is not a phone number."),
            };
        }
        if (!Util.IsValidNumber(number))
        {
            var region = Util.GetRegionCodeForNumber(number) ?? defaultRegion ?? "?";
            return Util.IsPossibleNumberWithReason(number) switch
            {
                PhoneNumberUtil.ValidationResult.TOO_SHORT or PhoneNumberUtil.ValidationResult.IS_POSSIBLE_LOCAL_ONLY => (null, "tooShort", "The number is too short (a local number needs its area code)."),
                PhoneNumberUtil.ValidationResult.TOO_LONG => (null, "tooLong", "The number is too long."),
                _ => (null, "invalidForRegion", $"The number is not valid for region {(input.TrimStart().StartsWith('+') ? Util.GetRegionCodeForCountryCode(number.CountryCode) : region)}."),
            };
        }
        return (Util.Format(number, PhoneNumberFormat.E164), null, null);
    }

    /// <summary>The formats of a stored E.164 number (national as dialled inside its own region).</summary>
    public static Formats Describe(string e164)
    {
        var number = Util.Parse(e164, "ZZ");
        var type = Util.GetNumberType(number) switch
        {
            PhoneNumberType.MOBILE => "mobile",
            PhoneNumberType.FIXED_LINE => "fixedLine",
            PhoneNumberType.FIXED_LINE_OR_MOBILE => "fixedLineOrMobile",
            PhoneNumberType.TOLL_FREE => "tollFree",
            PhoneNumberType.PREMIUM_RATE => "premiumRate",
            PhoneNumberType.VOIP => "voip",
            PhoneNumberType.PERSONAL_NUMBER => "personal",
            PhoneNumberType.PAGER => "pager",
            PhoneNumberType.UAN => "uan",
            PhoneNumberType.SHARED_COST => "sharedCost",
            PhoneNumberType.VOICEMAIL => "voicemail",
            _ => "unknown",
        };
        return new(e164, Util.Format(number, PhoneNumberFormat.NATIONAL), Util.Format(number, PhoneNumberFormat.INTERNATIONAL), type,
            Util.GetRegionCodeForNumber(number) ?? "");
    }
}

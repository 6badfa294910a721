using SecurePlatform.Profile.Model;

namespace SecurePlatform.Profile.Tests;

/// <summary>The pure profile rules (no host): phone numbers, postal codes, bio sanitising, locale, zone, website.</summary>
public class ProfileRulesTests
{
    [Theory]
    [InlineData("030 901820", "DE", "+4930901820")]
    [InlineData("(201) 555-0123", "US", "+12015550123")]
    [InlineData("+44 20 7946 0958", "US", "+442079460958")] // international form: accepted whatever the country
    [InlineData("+44 20 7946 0958", null, "+442079460958")]
    [InlineData("06 12 34 56 78", "FR", "+33612345678")]
    public void Valid_numbers_are_stored_as_E164(string input, string? region, string e164) =>
        Assert.Equal(e164, PhoneRules.Parse(input, region).E164);

    [Theory]
    [InlineData("(212) 555-0123", "GB", "invalidForRegion")] // valid in the US, not in Britain
    [InlineData("(201) 055-0123", "US", "invalidForRegion")] // ten digits, but no US exchange starts with 0
    [InlineData("030 901820", "US", "tooShort")]             // valid in Germany, too short for the US
    [InlineData("030 901820", null, "missingRegion")]
    [InlineData("12", "DE", "tooShort")]
    [InlineData("not a number", "DE", "notANumber")]
    [InlineData("+1 201 555 0123 4567 8901 2345", "US", "tooLong")]
    public void Invalid_numbers_are_refused_with_the_reason(string input, string? region, string rule) =>
        Assert.Equal(rule, PhoneRules.Parse(input, region).Rule);

    [Fact]
    public void A_stored_number_is_described_with_its_formats_and_type()
    {
        var mobile = PhoneRules.Describe("+4915123456789");
        Assert.Equal("mobile", mobile.Type);
        Assert.Equal("+49 1512 3456789", mobile.International);
        Assert.Equal("01512 3456789", mobile.National);
        Assert.Equal("fixedLine", PhoneRules.Describe("+4930901820").Type);
    }

    [Theory]
    [InlineData("US", "94043", "94043")]
    [InlineData("US", "22162-1010", "22162-1010")]
    [InlineData("DE", "10115", "10115")]
    [InlineData("GB", "sw1a 1aa", "SW1A 1AA")]
    [InlineData("CA", "K1A 0B1", "K1A 0B1")]
    [InlineData("NL", "1234 AB", "1234 AB")]
    [InlineData("JP", "154-0023", "154-0023")]
    [InlineData("BR", "40301-110", "40301-110")]
    [InlineData("KE", "00100", "00100")] // not in the data file: free form
    public void Postal_codes_match_their_country(string country, string code, string stored) =>
        Assert.Equal((stored, null), AddressRules.CheckPostalCode(country, code));

    [Theory]
    [InlineData("US", "1234", "format")]
    [InlineData("DE", "94043-1234", "format")]  // a US ZIP+4 is no German code
    [InlineData("GB", "12345", "format")]
    [InlineData("CA", "D1A 0B1", "format")]     // D is never a first letter
    [InlineData("NL", "1234 SA", "format")]     // SA, SD, SS are not used
    [InlineData("DE", null, "required")]
    [InlineData("AE", "12345", "notUsed")]
    [InlineData("KE", "<script>", "format")]
    public void Wrong_postal_codes_are_refused(string country, string? code, string rule) =>
        Assert.Equal(rule, AddressRules.CheckPostalCode(country, code).Rule);

    [Fact]
    public void The_postal_data_names_its_source_and_date()
    {
        Assert.Contains("libaddressinput", AddressRules.Source);
        Assert.Equal("2026-12-02", AddressRules.Retrieved);
        Assert.True(AddressRules.RegionRequired("US"));
        Assert.False(AddressRules.RegionRequired("DE"));
    }

    [Theory]
    [InlineData("<p>Hi <script>alert(1)</script>there</p>", "<p>Hi there</p>")]
    [InlineData("<p onclick=\"alert(1)\">x</p>", "<p>x</p>")]
    [InlineData("<img src=x onerror=alert(1)>text", "text")]
    [InlineData("<a href=\"javascript:alert(1)\">x</a>", "<a rel=\"nofollow noopener noreferrer\">x</a>")]
    [InlineData("<a href=\"data:text/html;base64,PHNjcmlwdD4=\">x</a>", "<a rel=\"nofollow noopener noreferrer\">x</a>")]
    [InlineData("<a href=\"http://example.com\">x</a>", "<a rel=\"nofollow noopener noreferrer\">x</a>")]
    [InlineData("<a href=\"//evil.test/\">x</a>", "<a rel=\"nofollow noopener noreferrer\">x</a>")]
    [InlineData("<a href=\"https://example.com/\" target=\"_blank\" rel=\"opener\">x</a>", "<a href=\"https://example.com/\" rel=\"nofollow noopener noreferrer\">x</a>")]
    [InlineData("<p style=\"background:url(javascript:alert(1))\" class=\"x\">s</p>", "<p>s</p>")]
    [InlineData("<ul><li><em>a</em></li><li><strong>b</strong><br></li></ul>", "<ul><li><em>a</em></li><li><strong>b</strong><br></li></ul>")]
    [InlineData("<iframe src=\"https://evil.test\"></iframe><object data=x></object>ok", "ok")]
    [InlineData("<svg><script>alert(1)</script></svg>", "")]
    public void The_bio_keeps_only_the_allow_list(string html, string expected) => Assert.Equal(expected, BioRules.Sanitize(html));

    [Theory]
    [InlineData("en-GB", "en-GB")]
    [InlineData("en-gb", "en-GB")]
    [InlineData("pt-BR", "pt-BR")]
    [InlineData("zh-Hant-TW", "zh-Hant-TW")]
    public void Locales_are_BCP47_and_stored_canonical(string tag, string canonical) => Assert.Equal((canonical, null), ProfileRules.CheckLocale(tag));

    [Theory]
    [InlineData("english")]
    [InlineData("en_GB")]
    [InlineData("xx-YY")]
    [InlineData("../../etc")]
    public void Other_locales_are_refused(string tag) => Assert.NotNull(ProfileRules.CheckLocale(tag).Rule);

    [Theory]
    [InlineData("xx")]
    [InlineData("xx-GB")]
    [InlineData("qaa")]
    [InlineData("zz-Latn-DE")]
    public void A_well_formed_tag_of_an_unknown_language_is_refused(string tag) => Assert.Equal((null, "unknownLanguage"), ProfileRules.CheckLocale(tag));

    [Theory]
    [InlineData("fil-PH", "fil-PH")]
    [InlineData("haw", "haw")]
    [InlineData("sr-Cyrl-RS", "sr-Cyrl-RS")]
    public void Three_letter_and_scripted_languages_icu_knows_pass(string tag, string canonical) => Assert.Equal((canonical, null), ProfileRules.CheckLocale(tag));

    [Theory]
    [InlineData("Europe/Berlin", true)]
    [InlineData("America/Argentina/Buenos_Aires", true)]
    [InlineData("UTC", true)]
    [InlineData("W. Europe Standard Time", false)] // Windows id
    [InlineData("europe/berlin", false)]
    [InlineData("+02:00", false)]
    [InlineData("Mars/Olympus", false)]
    public void Time_zones_are_IANA_ids(string zone, bool valid) => Assert.Equal(valid, ProfileRules.IsIanaTimeZone(zone));

    [Theory]
    [InlineData("https://ada.example/", null)]
    [InlineData("http://ada.example/", "httpsOnly")]
    [InlineData("javascript:alert(1)", "httpsOnly")]
    [InlineData("https://user:pass@ada.example/", "url")]
    [InlineData("/relative", "url")]
    public void Websites_are_https_only(string url, string? rule) => Assert.Equal(rule, ProfileRules.CheckWebsite(url));

    [Theory]
    [InlineData("DE", true)]
    [InlineData("GB", true)]
    [InlineData("UK", false)]
    [InlineData("de", false)]
    [InlineData("DEU", false)]
    public void Countries_are_ISO_3166_alpha2(string code, bool valid) => Assert.Equal(valid, ProfileRules.IsCountryCode(code));
}

using System.Text.Json;
using SecurePlatform.ServiceDefaults.Validation;

namespace SecurePlatform.ServiceDefaults.Tests;

/// <summary>The shared text, charset and JSON rules, without a host.</summary>
public class ValidationRulesTests
{
    [Theory]
    [InlineData("Ada Lovelace")]
    [InlineData("José")]                                // precomposed
    [InlineData("Zoë Smith-O'Brien")]
    [InlineData("山田太郎")]
    [InlineData("👩‍💻 Dev")]                           // ZWJ between two visible characters (emoji sequence)
    [InlineData("می‌خواهم")]                           // ZWNJ inside Persian
    public void Ordinary_names_pass(string name) => Assert.Null(TextRules.Check(TextRules.Normalize(name), 100));

    [Theory]
    [InlineData("evil\u202Egnp.exe", TextRules.FormatCharacter)] // right-to-left override
    [InlineData("a\u2066b\u2069", TextRules.FormatCharacter)]    // isolates
    [InlineData("a\u200Bb", TextRules.FormatCharacter)]          // zero-width space
    [InlineData("\uFEFFname", TextRules.FormatCharacter)]        // BOM
    [InlineData("name\U000E0041\U000E0042", TextRules.FormatCharacter)] // tag characters
    [InlineData("\u200Dname", TextRules.FormatCharacter)]        // a joiner at an edge only hides
    [InlineData("a \u200C b", TextRules.FormatCharacter)]        // next to a space
    [InlineData("line\nbreak", TextRules.ControlCharacter)]
    [InlineData("nul\0", TextRules.ControlCharacter)]
    [InlineData("c1\u0085", TextRules.ControlCharacter)]
    [InlineData("\u2028separator", TextRules.ControlCharacter)]
    [InlineData(" padded", TextRules.Whitespace)]
    [InlineData("   ", TextRules.Required)]
    [InlineData("", TextRules.Required)]
    public void Hostile_text_is_refused_with_its_rule(string value, string rule) =>
        Assert.Equal(rule, TextRules.Check(TextRules.Normalize(value), 100)?.Rule);

    [Fact]
    public void An_unpaired_surrogate_is_not_text() // built here: attribute data would turn it into U+FFFD
    {
        Assert.Equal(TextRules.InvalidText, TextRules.Check(TextRules.Normalize("lone" + (char)0xD800 + "high"), 100)?.Rule);
        Assert.Equal(TextRules.InvalidText, TextRules.Check(TextRules.Normalize("lone" + (char)0xDC00), 100)?.Rule);
    }

    [Fact]
    public void Text_is_stored_in_NFC_and_counted_in_code_points()
    {
        var decomposed = "Jose\u0301"; // e + combining acute
        Assert.Equal("José", TextRules.Normalize(decomposed));
        Assert.Equal(4, TextRules.CodePoints(TextRules.Normalize(decomposed)!));

        var emoji = string.Concat(Enumerable.Repeat("😀", 100)); // 200 UTF-16 units, 100 code points
        Assert.Null(TextRules.Check(emoji, 100));
        Assert.Equal(TextRules.MaxLength, TextRules.Check(emoji + "😀", 100)?.Rule);
    }

    [Fact]
    public void Multi_line_text_allows_line_feeds_only()
    {
        Assert.Null(TextRules.Check(TextRules.Normalize("one\r\ntwo"), 100, multiLine: true));
        Assert.Equal(TextRules.ControlCharacter, TextRules.Check("tab\there", 100, multiLine: true)?.Rule);
    }

    [Theory]
    [InlineData("application/json")]
    [InlineData("application/json; charset=utf-8")]
    [InlineData("application/json; charset=UTF-8")]
    [InlineData("image/png")]
    [InlineData(null)]
    public void UTF8_or_no_charset_is_accepted(string? contentType) => Assert.Null(ContentTypeRules.Check(contentType));

    [Theory]
    [InlineData("application/json; charset=bogus")]
    [InlineData("application/json; charset=utf-7")]
    [InlineData("application/json; charset=utf-16")]
    [InlineData("application/json; charset=iso-8859-1")]
    [InlineData("application/json; charset=\"utf-8\"")]
    [InlineData("application/json; charset=")]
    [InlineData("application/json; charset=utf-8; charset=utf-7")]
    public void Any_other_charset_is_415(string contentType) => Assert.Equal(415, ContentTypeRules.Check(contentType)?.Status);

    [Theory]
    [InlineData("?userId=%FF", "userId")]
    [InlineData("a=1&userId=x%C3", "userId")]
    [InlineData("%FFname=1", "%FFname")]            // a name that is not UTF-8 is named as sent
    [InlineData("user%20id=%80", "user id")]
    public void A_query_parameter_whose_bytes_are_not_UTF8_is_named(string query, string field)
    {
        var errors = QueryStringRules.Check(query);

        Assert.NotNull(errors);
        Assert.Equal([field], errors.Fields);
        Assert.Equal([QueryStringRules.Rule], errors.RulesOf(field));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("?userId=abc&limit=5")]
    [InlineData("userId=%C3%A9%F0%9F%98%80")]      // é and an emoji
    [InlineData("q=a+b%2Bc&x")]
    [InlineData("q=%G1%2")]                          // malformed escapes stay literal text
    public void UTF8_queries_pass(string? query) => Assert.Null(QueryStringRules.Check(query));

    [Fact]
    public void A_content_type_that_does_not_parse_is_400() => Assert.Equal(400, ContentTypeRules.Check("not a media type; ;")?.Status);

    private sealed class Request
    {
        public string? Name { get; init; }
        public Inner? Address { get; init; }
        public IReadOnlyList<Inner>? Items { get; init; }
    }

    private sealed class Inner
    {
        public string? Code { get; init; }
    }

    [Theory]
    [InlineData("""{"name":"a","extra":1}""", "extra", "unknownMember")]
    [InlineData("""{"Name":"a"}""", "Name", "unknownMember")]                 // wrong case
    [InlineData("""{"name":"a","name":"b"}""", "name", "invalid")]            // duplicate
    [InlineData("""{"name":5}""", "name", "invalid")]
    [InlineData("""{"address":{"code":"x","bogus":1}}""", "address.bogus", "unknownMember")]
    [InlineData("""{"items":[{"code":"x"},{"Code":"y"}]}""", "items[1].Code", "unknownMember")]
    [InlineData("""{"name":"a",}""", "$", "json")]
    [InlineData("""not json""", "$", "json")]
    public void A_JSON_failure_names_the_member_and_the_rule(string json, string field, string rule)
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        StrictJson.Apply(options);
        var exception = Assert.ThrowsAny<JsonException>(() => JsonSerializer.Deserialize<Request>(json, options));

        var explained = StrictJson.Explain(exception, typeof(Request), options);

        Assert.Equal((field, rule), (explained.Field, explained.Rule));
    }

    [Theory]
    [InlineData("Address.Lines[0]", "address.lines[0]")]
    [InlineData("DisplayName", "displayName")]
    [InlineData("", "$")]
    public void Property_paths_become_JSON_paths(string property, string json) => Assert.Equal(json, ValidationExtensions.JsonPath(property));

    [Theory]
    [InlineData("MaximumLengthValidator", "maximumLength")]
    [InlineData("invalidForRegion", "invalidForRegion")]
    [InlineData(null, "invalid")]
    public void Rule_codes_are_stable_camelCase(string? code, string expected) => Assert.Equal(expected, ValidationExtensions.RuleCode(code));
}

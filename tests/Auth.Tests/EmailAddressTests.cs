using SecurePlatform.Auth.Model;

namespace SecurePlatform.Auth.Tests;

public class EmailAddressTests
{
    [Theory]
    [InlineData("  Alice@Example.COM ", "alice@example.com")]
    [InlineData("o'brien+tag@mail.example.co.uk", "o'brien+tag@mail.example.co.uk")]
    [InlineData("admin@secureplatform.local", "admin@secureplatform.local")]
    public void Addresses_are_trimmed_and_lower_cased(string raw, string expected)
    {
        Assert.True(EmailAddress.TryNormalize(raw, out var normalized, out _));
        Assert.Equal(expected, normalized);
    }

    [Theory]
    [InlineData(null, "required")]
    [InlineData("   ", "required")]
    [InlineData("plainaddress", "format")]
    [InlineData("@example.com", "format")]
    [InlineData("alice@", "format")]
    [InlineData("alice@example", "format")]
    [InlineData("alice@example.com.", "format")]
    [InlineData("alice..smith@example.com", "format")]
    [InlineData(".alice@example.com", "format")]
    [InlineData("alice@-example.com", "format")]
    [InlineData("alice@exam_ple.com", "format")]
    [InlineData("alice smith@example.com", "format")]
    [InlineData("\"alice\"@example.com", "format")]
    [InlineData("alice@[127.0.0.1]", "format")]
    [InlineData("alice@example.com\nx", "format")]
    [InlineData("ａlice@example.com", "format")]     // full-width a
    [InlineData("аlice@example.com", "format")]      // Cyrillic a
    [InlineData("\u212Aelly@example.com", "format")] // Kelvin sign, which lower-cases to an ASCII k
    public void Invalid_addresses_are_refused_with_the_rule(string? raw, string rule)
    {
        Assert.False(EmailAddress.TryNormalize(raw, out _, out var violation));
        Assert.Equal(rule, violation.Rule);
    }

    [Fact]
    public void At_most_254_characters_and_64_in_the_local_part()
    {
        var local64 = new string('l', 64);
        Assert.False(EmailAddress.TryNormalize($"{new string('l', 65)}@example.com", out _, out var tooLongLocal));
        Assert.Equal("format", tooLongLocal.Rule);

        var at254 = $"{local64}@{new string('d', 63)}.{new string('e', 63)}.{new string('f', 57)}.com";
        Assert.Equal(254, at254.Length);
        Assert.True(EmailAddress.TryNormalize(at254, out _, out _));
        Assert.False(EmailAddress.TryNormalize("x" + at254, out _, out var tooLong));
        Assert.Equal("maxLength", tooLong.Rule);
    }
}

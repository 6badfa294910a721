using SecurePlatform.Auth.Model;

namespace SecurePlatform.Auth.Tests;

/// <summary>The password rules as a plain class: no host, no database.</summary>
public class PasswordPolicyTests
{
    private const string Email = "someone@example.org";
    private static readonly PasswordPolicy Policy = new(CommonPasswords.Shipped);

    private static IReadOnlyList<string> Rules(string? password, string? email = Email) => [.. Policy.Check(password, email).Select(v => v.Rule)];

    /// <summary>Letters from a seeded generator: long, not a pattern, not on any list.</summary>
    private static string Random(int length, string alphabet = "bcdfghjkmnpqrstvwxzBCDFGHJKLMNPQRSTVWXZ", int seed = 7)
    {
        var random = new Random(seed);
        return string.Concat(Enumerable.Range(0, length).Select(_ => alphabet[random.Next(alphabet.Length)]));
    }

    [Fact]
    public void The_shipped_list_holds_tens_of_thousands_of_common_passwords()
    {
        Assert.True(CommonPasswords.Shipped.Count >= 10_000, $"only {CommonPasswords.Shipped.Count}");
        Assert.True(CommonPasswords.Shipped.Contains("password"));
        Assert.True(CommonPasswords.Shipped.Contains("1qaz2wsx3edc"));
    }

    [Theory]
    [InlineData(11, false)]
    [InlineData(12, true)]
    [InlineData(64, true)]
    [InlineData(128, true)]
    [InlineData(129, false)]
    public void Length_is_12_to_128_characters(int length, bool accepted)
    {
        var rules = Rules(Random(length));

        Assert.Equal(accepted, rules.Count == 0);
        if (!accepted)
        {
            Assert.Equal(new[] { length < 12 ? PasswordPolicy.Rules.MinLength : PasswordPolicy.Rules.MaxLength }, rules);
        }
    }

    [Theory]
    [InlineData(11, false)]
    [InlineData(12, true)]
    [InlineData(128, true)]
    [InlineData(129, false)]
    public void Length_counts_code_points_not_utf16_units_or_bytes(int length, bool accepted)
    {
        // Outside the BMP: two UTF-16 units and four UTF-8 bytes each.
        var runes = new[] { "😀", "🔑", "🐙", "𝄞", "🌵", "𐍈", "🚲", "🧩", "🦉", "🎻", "🍋", "🪁", "🛶" };
        var random = new Random(3);
        var password = string.Concat(Enumerable.Range(0, length).Select(_ => runes[random.Next(runes.Length)]));
        Assert.Equal(length * 2, password.Length);

        Assert.Equal(accepted, Rules(password).Count == 0);
    }

    [Fact]
    public void Accented_and_cjk_letters_count_one_each()
    {
        Assert.Empty(Rules("日本語のパスワードは安全です")); // 14
        Assert.Equal(new[] { PasswordPolicy.Rules.MinLength }, Rules("ãéîõüçñåøæœß".Substring(0, 11)));
        Assert.Empty(Rules("ãéîõüçñåøæœß"));
    }

    [Theory]
    [InlineData("password1234")]      // listed word + digits
    [InlineData("qwertyuiop123")]     // listed keyboard walk + digits
    [InlineData("1qaz2wsx3edc")]      // listed as is (12 characters)
    [InlineData("administrator")]     // listed as is
    [InlineData("!!Sunshine2024")]    // listed word inside symbols and digits, any case
    [InlineData("abcabcabcabc")]      // short unit repeated
    [InlineData("qwe123qwe123")]      // listed unit repeated
    [InlineData("passwordpassword")]  // listed unit repeated
    [InlineData("aaaaaaaaaaaaaaaa")]
    [InlineData("abcdefghijklmnop")]  // straight run
    [InlineData("987654321098")]      // straight run of digits, wrapping
    public void Common_and_predictable_passwords_are_refused(string password)
    {
        Assert.Contains(PasswordPolicy.Rules.Common, Rules(password));
    }

    [Theory]
    [InlineData("secureplatform2026")]
    [InlineData("My Secure-Platform pass")]
    public void The_service_name_is_refused(string password)
    {
        Assert.Contains(PasswordPolicy.Rules.ServiceName, Rules(password));
    }

    [Theory]
    [InlineData("correct horse battery staple")]
    [InlineData("Tr0ub4dor&3-violet-kettle")]
    [InlineData("zebra glacier 47 lantern")]
    [InlineData("47 zebras 12 glaciers")]
    public void Ordinary_strong_passphrases_are_accepted(string password)
    {
        Assert.Empty(Rules(password));
    }

    [Theory]
    [InlineData("alice.smith@acme-corp.io", "xx-alice.smith@acme-corp.io-xx")] // the whole address
    [InlineData("alice.smith@acme-corp.io", "ALICE.SMITH rocks!!")]            // local part, any case
    [InlineData("alice.smith@acme-corp.io", "htims.ecila-violet")]             // local part reversed
    [InlineData("alice.smith@acme-corp.io", "AliceSmith#violet")]              // local part without separators
    [InlineData("alice.smith@acme-corp.io", "violet-alice-kettle")]            // a 4+ letter word of the local part
    [InlineData("alice.smith@acme-corp.io", "Acme violet kettle")]             // a 4+ letter label of the domain
    [InlineData("bob@mailbox.org", "bobsled racing team")]                     // a 3-character local part
    public void Passwords_similar_to_the_email_are_refused(string email, string password)
    {
        Assert.Equal(new[] { PasswordPolicy.Rules.EmailSimilarity }, Rules(password, email));
    }

    [Fact]
    public void Very_short_email_parts_do_not_forbid_ordinary_words()
    {
        Assert.Empty(Rules("jovial kettle drum", "jo@x.io"));
    }

    [Theory]
    [InlineData("tab\there-violet-kettle")]
    [InlineData("nul\0here-violet-kettle")]
    public void Control_characters_are_refused(string password)
    {
        Assert.Contains(PasswordPolicy.Rules.Characters, Rules(password));
    }

    [Fact]
    public void Invalid_utf16_is_refused()
    {
        var loneSurrogate = "lone " + (char)0xD800 + " surrogate-violet";

        Assert.Contains(PasswordPolicy.Rules.Characters, Rules(loneSurrogate));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    public void A_password_is_required(string? password)
    {
        Assert.Equal(new[] { PasswordPolicy.Rules.Required }, Rules(password));
    }
}

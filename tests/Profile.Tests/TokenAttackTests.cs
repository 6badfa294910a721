using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using Microsoft.IdentityModel.Tokens;
using SecurePlatform.TestSupport;

namespace SecurePlatform.Profile.Tests;

/// <summary>
/// The JWT attack catalogue (security-reference §2) against the one validation every service shares: each
/// forged or unacceptable token gets a bare 401 and changes nothing.
/// </summary>
public class TokenAttackTests(ProfileFactory profile) : IClassFixture<ProfileFactory>
{
    private static string B64(string json) => Base64UrlEncoder.Encode(Encoding.UTF8.GetBytes(json));

    private static string Payload(string sub) =>
        $$"""{"iss":"{{TestTokens.Issuer}}","aud":"{{TestTokens.Audience}}","sub":"{{sub}}","sid":"{{Guid.CreateVersion7()}}","iat":{{DateTimeOffset.UtcNow.ToUnixTimeSeconds()}},"nbf":{{DateTimeOffset.UtcNow.ToUnixTimeSeconds()}},"exp":{{DateTimeOffset.UtcNow.AddMinutes(15).ToUnixTimeSeconds()}}}""";

    public static TheoryData<string> Attacks() =>
    [
        "alg none",
        "HS256 signed with the RSA public key",
        "stripped signature",
        "altered signature",
        "altered payload",
        "unknown kid",
        "expired",
        "nbf in the future",
        "wrong issuer",
        "wrong audience",
        "not an access token (typ JWT)",
        "RS384 outside the allow-list",
    ];

    private static string Forge(string attack, string sub)
    {
        var valid = TestTokens.Issue(sub);
        var parts = valid.Split('.');
        return attack switch
        {
            "alg none" => $"{B64("""{"alg":"none","typ":"at+jwt"}""")}.{B64(Payload(sub))}.",
            "HS256 signed with the RSA public key" => HmacWithPublicKey(sub),
            "stripped signature" => $"{parts[0]}.{parts[1]}.",
            "altered signature" => $"{parts[0]}.{parts[1]}.{(parts[2][0] == 'A' ? 'B' : 'A')}{parts[2][1..]}",
            "altered payload" => $"{parts[0]}.{B64(Payload(sub + "-admin"))}.{parts[2]}",
            "unknown kid" => TestTokens.Issue(sub, credentials: new SigningCredentials(new RsaSecurityKey(RSA.Create(2048)) { KeyId = "not-published" }, SecurityAlgorithms.RsaSha256)),
            "expired" => TestTokens.Issue(sub, notBefore: DateTime.UtcNow.AddMinutes(-20), lifetime: TimeSpan.FromMinutes(20) - TimeSpan.FromSeconds(45)),
            "nbf in the future" => TestTokens.Issue(sub, notBefore: DateTime.UtcNow.AddMinutes(5)),
            "wrong issuer" => TestTokens.Issue(sub, issuer: "https://evil.example/"),
            "wrong audience" => TestTokens.Issue(sub, audience: "some-other-api"),
            "not an access token (typ JWT)" => TestTokens.Issue(sub, tokenType: "JWT"),
            "RS384 outside the allow-list" => TestTokens.Issue(sub, credentials: new SigningCredentials(TestTokens.Key, SecurityAlgorithms.RsaSha384)),
            _ => throw new ArgumentOutOfRangeException(nameof(attack)),
        };
    }

    private static string HmacWithPublicKey(string sub)
    {
        var publicPem = TestTokens.Key.Rsa.ExportSubjectPublicKeyInfoPem();
        var unsigned = $"{B64("""{"alg":"HS256","typ":"at+jwt","kid":"test-signing-key"}""")}.{B64(Payload(sub))}";
        var signature = HMACSHA256.HashData(Encoding.UTF8.GetBytes(publicPem), Encoding.ASCII.GetBytes(unsigned));
        return unsigned + "." + Base64UrlEncoder.Encode(signature);
    }

    [Theory]
    [MemberData(nameof(Attacks))]
    public async Task A_forged_or_unacceptable_token_is_refused_with_a_bare_401_and_changes_nothing(string attack)
    {
        var sub = "victim-" + Guid.NewGuid().ToString("N")[..10];
        var owner = profile.ClientWith(TestTokens.Issue(sub));
        await owner.PutAsJsonAsync("/profiles/me", new { displayName = "Original" });
        var attacker = profile.ClientWith(Forge(attack, sub));

        var read = await attacker.GetAsync("/profiles/me");
        var write = await attacker.PutAsJsonAsync("/profiles/me", new { displayName = "Pwned" });

        Assert.Equal(HttpStatusCode.Unauthorized, read.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, write.StatusCode);
        Assert.Equal("Bearer", read.Headers.WwwAuthenticate.ToString()); // no error_description telling which check failed
        Assert.Equal("Original", profile.WithDb(db => db.Profiles.Single(p => p.Id == sub).DisplayName));
    }

    [Fact]
    public async Task The_same_valid_token_is_accepted_so_the_refusals_above_are_about_the_attack()
        => Assert.Equal(HttpStatusCode.OK, (await profile.ClientWith(TestTokens.Issue("control-" + Guid.NewGuid().ToString("N")[..8])).GetAsync("/profiles/me")).StatusCode);

    [Fact]
    public async Task A_token_within_the_30_second_clock_skew_is_still_accepted()
    {
        var almostExpired = TestTokens.Issue("skew-" + Guid.NewGuid().ToString("N")[..8], notBefore: DateTime.UtcNow.AddMinutes(-15), lifetime: TimeSpan.FromMinutes(15) - TimeSpan.FromSeconds(10));
        Assert.Equal(HttpStatusCode.OK, (await profile.ClientWith(almostExpired).GetAsync("/profiles/me")).StatusCode);
    }
}

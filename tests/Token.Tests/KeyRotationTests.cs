using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using SecurePlatform.Messaging;
using SecurePlatform.TestSupport;

namespace SecurePlatform.Token.Tests;

public class KeyRotationTests
{
    private static async Task<List<string>> JwksKeyIdsAsync(TokenServiceFactory token) =>
        [.. (await token.Http.GetFromJsonAsync<JsonElement>("/.well-known/jwks")).GetProperty("keys").EnumerateArray().Select(k => k.GetProperty("kid").GetString()!)];

    private static async Task<string> SigningKeyIdAsync(TokenServiceFactory token) =>
        Jwt.Header((await token.SignInAsync("rotation-user")).AccessToken).GetProperty("kid").GetString()!;

    [Fact]
    public async Task A_new_key_is_published_before_it_signs_and_the_old_one_stays_published_after()
    {
        await using var token = new TokenServiceFactory("rotation", new()
        {
            ["Token:KeyRotationPeriod"] = "00:00:12",
            ["Token:KeyAnnouncementPeriod"] = "00:00:07",
        });
        var first = await SigningKeyIdAsync(token);
        var oldToken = (await token.SignInAsync("rotation-user")).AccessToken;

        // Announced: JWKS carries a second key while tokens are still signed with the first.
        string? announced = null;
        await Eventually.HoldsAsync(async () => (announced = (await JwksKeyIdsAsync(token)).FirstOrDefault(k => k != first)) is not null,
            TimeSpan.FromSeconds(20), "a successor key is published");
        Assert.Equal(first, await SigningKeyIdAsync(token));

        // Activated: new tokens carry the announced key; the retired one is still published for live tokens.
        await Eventually.HoldsAsync(async () => await SigningKeyIdAsync(token) == announced, TimeSpan.FromSeconds(20), "the announced key signs");
        var published = await JwksKeyIdsAsync(token);
        Assert.Contains(first, published);
        Assert.Contains(announced!, published);
        Assert.Equal(System.Net.HttpStatusCode.OK, (await token.Http.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/sessions") { Headers = { Authorization = new("Bearer", oldToken) } })).StatusCode);
        var rotated = token.WithDb(db => db.Set<OutboxMessage>().Count(m => m.Type.EndsWith("SigningKeyRotated")));
        Assert.True(rotated >= 2, "the first key and its successor each produced SigningKeyRotated");
    }

    [Fact]
    public async Task A_bad_signing_algorithm_on_an_existing_database_refuses_to_start_naming_the_setting()
    {
        await using var first = new TokenServiceFactory("badalg", []);
        first.EnsureStarted(); // the database now has its keys: no key is created at the next start
        var database = first.Setting("ConnectionStrings:tokendb")!;
        await using var second = new TokenServiceFactory("badalg2", new() { ["ConnectionStrings:tokendb"] = database, ["Token:SigningAlgorithm"] = "HS256" });

        var error = Record.Exception(second.EnsureStarted);

        Assert.NotNull(error);
        var validation = Assert.IsType<Microsoft.Extensions.Options.OptionsValidationException>(error);
        Assert.Contains(validation.Failures, f => f.Contains("Token:SigningAlgorithm", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_key_ring_that_cannot_refresh_shows_degraded_on_health_until_it_can_again()
    {
        await using var token = new TokenServiceFactory("keyfail", new() { ["Token:KeyRefreshInterval"] = "00:00:00.500" });
        async Task<(System.Net.HttpStatusCode Status, string? SigningKeys)> HealthAsync()
        {
            var response = await token.Http.GetAsync("/health");
            var body = await response.Content.ReadFromJsonAsync<JsonElement>();
            var check = body.GetProperty("checks").EnumerateArray().FirstOrDefault(c => c.GetProperty("name").GetString() == "signing-keys");
            return (response.StatusCode, check.ValueKind == JsonValueKind.Object ? check.GetProperty("status").GetString() : null);
        }
        await Eventually.HoldsAsync(async () => (await HealthAsync()).SigningKeys == "Healthy", TimeSpan.FromSeconds(30), "signing-keys Healthy");

        // The key table is gone from under the refresh loop: every tick fails.
        token.WithDb(db => db.Database.ExecuteSqlRaw("ALTER TABLE signing_keys RENAME TO signing_keys_away"));
        try
        {
            // Degraded, still ready (200): the keys it has keep signing; the failure shows, it does not take the service out.
            await Eventually.HoldsAsync(async () => await HealthAsync() == (System.Net.HttpStatusCode.OK, "Degraded"),
                TimeSpan.FromSeconds(30), "signing-keys Degraded, /health 200");
        }
        finally
        {
            token.WithDb(db => db.Database.ExecuteSqlRaw("ALTER TABLE signing_keys_away RENAME TO signing_keys"));
        }
        await Eventually.HoldsAsync(async () => (await HealthAsync()).SigningKeys == "Healthy", TimeSpan.FromSeconds(30), "signing-keys Healthy again");
    }

    [Fact]
    public async Task Two_replicas_on_one_database_publish_the_same_keys_and_sign_with_the_same_one()
    {
        await using var first = new TokenServiceFactory("replicas", []);
        first.EnsureStarted();
        var database = first.Setting("ConnectionStrings:tokendb")!;
        await using var second = new TokenServiceFactory("replicas2", new() { ["ConnectionStrings:tokendb"] = database, ["Token:Issuer"] = first.BaseUrl });

        var firstKeys = await JwksKeyIdsAsync(first);
        var secondKeys = await JwksKeyIdsAsync(second);

        Assert.Equal(firstKeys.Order(), secondKeys.Order());
        Assert.Equal(await SigningKeyIdAsync(first), await SigningKeyIdAsync(second));
        // a refresh token from one replica is redeemed by the other
        var issued = await first.SignInAsync("replica-user");
        Assert.Equal(System.Net.HttpStatusCode.OK, (await second.RefreshAsync(issued.RefreshToken!)).StatusCode);
    }
}

public class SigningAlgorithmTests
{
    [Theory]
    [InlineData("ES256", "EC")]
    [InlineData("PS256", "RSA")]
    public async Task A_configured_algorithm_signs_access_tokens_that_a_standard_client_validates(string algorithm, string keyType)
    {
        await using var token = new TokenServiceFactory("alg" + algorithm.ToLowerInvariant(), new() { ["Token:SigningAlgorithm"] = algorithm });

        var issued = await token.SignInAsync("alg-user");
        var jwks = await token.Http.GetStringAsync("/.well-known/jwks");
        var manager = new Microsoft.IdentityModel.Protocols.ConfigurationManager<Microsoft.IdentityModel.Protocols.OpenIdConnect.OpenIdConnectConfiguration>(
            token.BaseUrl + ".well-known/openid-configuration", new Microsoft.IdentityModel.Protocols.OpenIdConnect.OpenIdConnectConfigurationRetriever(),
            new Microsoft.IdentityModel.Protocols.HttpDocumentRetriever { RequireHttps = false });
        var configuration = await manager.GetConfigurationAsync(CancellationToken.None);
        var result = await new Microsoft.IdentityModel.JsonWebTokens.JsonWebTokenHandler().ValidateTokenAsync(issued.AccessToken, new Microsoft.IdentityModel.Tokens.TokenValidationParameters
        {
            ValidIssuer = configuration.Issuer,
            ValidAudience = "secureplatform-api",
            IssuerSigningKeys = configuration.SigningKeys,
        });

        Assert.Equal(algorithm, Jwt.Header(issued.AccessToken).GetProperty("alg").GetString());
        Assert.Contains(JsonSerializer.Deserialize<JsonElement>(jwks).GetProperty("keys").EnumerateArray(), k => k.GetProperty("kty").GetString() == keyType);
        Assert.True(result.IsValid, result.Exception?.Message);
        Assert.Equal(System.Net.HttpStatusCode.OK, (await token.RefreshAsync(issued.RefreshToken!)).StatusCode);
    }
}

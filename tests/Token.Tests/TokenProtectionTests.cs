using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using OpenIddict.EntityFrameworkCore.Models;
using OpenIddict.Server;
using SecurePlatform.TestSupport;

namespace SecurePlatform.Token.Tests;

public class TokenProtectionTests(TokenServiceFactory token) : IClassFixture<TokenServiceFactory>
{
    [Fact]
    public async Task Access_tokens_carry_the_published_key_while_refresh_tokens_are_encrypted_and_hmac_signed_with_a_key_never_published()
    {
        var response = await token.Http.PostAsync("/connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "urn:secureplatform:grant-type:sign-in", ["client_id"] = "auth-service", ["client_secret"] = TokenServiceFactory.AuthServiceSecret,
            ["subject"] = "protection-user", ["amr"] = "pwd", ["roles"] = "user", ["scope"] = "openid offline_access",
        }));
        var body = await HttpAssert.OkJsonAsync<JsonElement>(response);
        var jwks = (await token.Http.GetFromJsonAsync<JsonElement>("/.well-known/jwks")).GetProperty("keys").EnumerateArray().ToList();

        // No identity token: nobody reads it, and it would be another RSA signature per sign-in and refresh.
        Assert.False(body.TryGetProperty("id_token", out _));
        Assert.DoesNotContain("openid", Jwt.Payload(body.GetProperty("access_token").GetString()!).GetProperty("scope").ToString());

        var accessHeader = Jwt.Header(body.GetProperty("access_token").GetString()!);
        Assert.Equal("RS256", accessHeader.GetProperty("alg").GetString());
        Assert.Contains(jwks, k => k.GetProperty("kid").GetString() == accessHeader.GetProperty("kid").GetString());

        // The refresh token is a JWE; inside, a JWS signed with the ring's HMAC key, which JWKS never shows.
        var refresh = new JsonWebToken(body.GetProperty("refresh_token").GetString()!);
        Assert.Equal("A256KW", refresh.Alg);
        var server = token.Services.GetRequiredService<IOptionsMonitor<OpenIddictServerOptions>>().CurrentValue;
        var inner = new JsonWebToken(new JsonWebTokenHandler().DecryptToken(refresh, new TokenValidationParameters
        {
            TokenDecryptionKeys = server.EncryptionCredentials.Select(c => c.Key),
        }));
        Assert.Equal("HS256", inner.Alg);
        Assert.StartsWith("int-", inner.Kid);
        Assert.DoesNotContain(jwks, k => k.GetProperty("kid").GetString() == inner.Kid);
        Assert.All(jwks, k => Assert.NotEqual("oct", k.GetProperty("kty").GetString()));

        // And it still redeems.
        Assert.Equal(HttpStatusCode.OK, (await token.RefreshAsync(refresh.EncodedToken)).StatusCode);
    }
}

public class ClientCacheTests
{
    [Fact]
    public async Task A_client_is_read_from_the_database_once_per_cache_period_and_a_removal_is_honoured_when_it_expires()
    {
        await using var token = new TokenServiceFactory("clientcache", new() { ["Token:ClientCacheDuration"] = "00:00:05" });
        var grant = () => token.Http.PostAsync("/connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials", ["client_id"] = "worker", ["client_secret"] = TokenServiceFactory.ServiceSecret, ["scope"] = "api",
        }));
        Assert.Equal(HttpStatusCode.OK, (await grant()).StatusCode);

        // Removed behind the service's back (as another replica would): still cached here for now...
        var removed = token.WithDb(db => db.Set<OpenIddictEntityFrameworkCoreApplication>().Where(a => a.ClientId == "worker").ExecuteDelete());
        Assert.Equal(1, removed);
        Assert.Equal(HttpStatusCode.OK, (await grant()).StatusCode);

        // ...and refused once the cache period is over.
        await Eventually.HoldsAsync(async () => (await grant()).StatusCode == HttpStatusCode.Unauthorized,
            TimeSpan.FromSeconds(15), "the removed client is refused after the cache period");
    }
}

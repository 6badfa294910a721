using System.Buffers.Text;
using System.Net;
using System.Security.Cryptography;
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
    public async Task Access_tokens_carry_the_published_key_while_refresh_tokens_are_opaque_and_tokendb_holds_only_a_hash_of_them()
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
        Assert.All(jwks, k => Assert.NotEqual("oct", k.GetProperty("kty").GetString()));

        // The refresh token is random bits with a tag, not a token anyone can read; the session row has its hash only.
        var refresh = body.GetProperty("refresh_token").GetString()!;
        var sid = Guid.Parse(Jwt.Payload(body.GetProperty("access_token").GetString()!).GetProperty("sid").GetString()!);
        Assert.False(new JsonWebTokenHandler().CanReadToken(refresh));
        var secret = Base64Url.DecodeFromChars(refresh)[16..48];
        var stored = token.WithDb(db => db.Sessions.Single(s => s.Id == sid).RefreshTokenHash);
        Assert.Equal(SHA256.HashData(secret), stored);
        var everything = token.WithDb(db => db.Database.SqlQueryRaw<string>("SELECT row_to_json(s)::text AS \"Value\" FROM sessions s WHERE id = {0}", sid).Single());
        Assert.DoesNotContain(Convert.ToHexString(secret).ToLowerInvariant(), everything);

        // And it redeems.
        Assert.Equal(HttpStatusCode.OK, (await token.RefreshAsync(refresh)).StatusCode);
    }

    [Fact]
    public async Task A_made_up_refresh_token_for_someone_elses_session_is_refused_and_does_not_end_that_session()
    {
        var victim = await token.SignInAsync("victim-" + Guid.NewGuid().ToString("N"));
        var sid = Guid.Parse(victim.Sid);
        var before = token.WithDb(db => db.Sessions.AsNoTracking().Single(s => s.Id == sid));

        // The sid is in every access token; without the tag key nobody can make a token of that family, so this must
        // not count as a replay (which would revoke the victim's session).
        var forged = new byte[64];
        sid.TryWriteBytes(forged.AsSpan(0, 16), bigEndian: true, out _);
        RandomNumberGenerator.Fill(forged.AsSpan(16));
        var forgedResponse = await token.RefreshAsync(Base64Url.EncodeToString(forged));
        // The victim's real token presented by another first-party app.
        var otherClient = await token.RefreshAsync(victim.RefreshToken!, clientId: "other-app");

        Assert.Equal("invalid_grant", await forgedResponse.ErrorAsync());
        Assert.Equal("invalid_grant", await otherClient.ErrorAsync());
        var after = token.WithDb(db => db.Sessions.AsNoTracking().Single(s => s.Id == sid));
        Assert.Null(after.RevokedAt);
        Assert.Equal(before.RefreshTokenHash, after.RefreshTokenHash);
        Assert.Equal(before.LastUsedAt, after.LastUsedAt);
        Assert.Equal(HttpStatusCode.OK, (await token.RefreshAsync(victim.RefreshToken!)).StatusCode);
    }

    [Fact]
    public async Task A_refresh_asking_for_a_scope_never_granted_is_refused_without_using_up_the_token()
    {
        var issued = await token.SignInAsync("scope-" + Guid.NewGuid().ToString("N"));
        var sid = Guid.Parse(issued.Sid);
        var before = token.WithDb(db => db.Sessions.AsNoTracking().Single(s => s.Id == sid).RefreshTokenHash);

        var widened = await token.Http.PostAsync("/connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token", ["client_id"] = "platform-app", ["refresh_token"] = issued.RefreshToken!, ["scope"] = "openid offline_access", // openid: a platform sign-in session never has it
        }));
        var narrowed = await token.Http.PostAsync("/connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token", ["client_id"] = "platform-app", ["refresh_token"] = issued.RefreshToken!, ["scope"] = "offline_access",
        }));

        Assert.Equal("invalid_scope", await widened.ErrorAsync());
        Assert.Equal(HttpStatusCode.OK, narrowed.StatusCode); // the same token still redeemed: the refusal used nothing up
        Assert.NotEqual(before, token.WithDb(db => db.Sessions.AsNoTracking().Single(s => s.Id == sid).RefreshTokenHash));
        Assert.Null(token.WithDb(db => db.Sessions.AsNoTracking().Single(s => s.Id == sid).RevokedAt));
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

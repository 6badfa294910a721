using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using SecurePlatform.Messaging;
using SecurePlatform.ServiceDefaults.Auth;
using SecurePlatform.TestSupport;

namespace SecurePlatform.Token.Tests;

/// <summary>
/// The emergency procedure for a compromised signing key: an MFA admin with a recent sign-in revokes it; JWKS drops
/// it, a new key signs at once, and the tokens it signed are refused (each test has its own database: revoking
/// changes the whole key ring).
/// </summary>
public class SigningKeyRevocationTests
{
    private static string NewUser() => "keys-" + Guid.NewGuid().ToString("N")[..12];

    private static async Task<HttpResponseMessage> SendAsync(TokenServiceFactory token, HttpMethod method, string path, string? accessToken)
    {
        using var request = new HttpRequestMessage(method, path);
        if (accessToken is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        }
        return await token.Http.SendAsync(request);
    }

    private static Task<HttpResponseMessage> RevokeAsync(TokenServiceFactory token, string kid, string? accessToken) =>
        SendAsync(token, HttpMethod.Post, $"/admin/signing-keys/{kid}/revoke", accessToken);

    private static async Task<List<string>> JwksKeyIdsAsync(TokenServiceFactory token) =>
        [.. (await token.Http.GetFromJsonAsync<JsonElement>("/.well-known/jwks")).GetProperty("keys").EnumerateArray().Select(k => k.GetProperty("kid").GetString()!)];

    private static string Kid(string jwt) => Jwt.Header(jwt).GetProperty("kid").GetString()!;

    private static async Task<string> AdminAsync(TokenServiceFactory token) =>
        (await token.SignInAsync(NewUser(), roles: "admin", amr: "pwd otp mfa")).AccessToken;

    private static async Task<bool> IntrospectedActiveAsync(TokenServiceFactory token, string accessToken)
    {
        var response = await token.Http.PostAsync("/connect/introspect", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["client_id"] = "resource-api", ["client_secret"] = TokenServiceFactory.ResourceSecret, ["token"] = accessToken,
        }));
        return (await HttpAssert.OkJsonAsync<JsonElement>(response)).GetProperty("active").GetBoolean();
    }

    private static async Task<string> ClientCredentialsTokenAsync(TokenServiceFactory token) =>
        (await HttpAssert.OkJsonAsync<TokenResponse>(await token.Http.PostAsync("/connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials", ["client_id"] = "worker", ["client_secret"] = TokenServiceFactory.ServiceSecret, ["scope"] = "api",
        })))).AccessToken;

    private static int RevocationEvents(TokenServiceFactory token) =>
        token.WithDb(db => db.Set<OutboxMessage>().Count(m => m.Type == typeof(Contracts.SigningKeyRevoked).FullName));

    [Fact]
    public async Task A_revoked_key_leaves_jwks_a_new_key_signs_at_once_and_its_tokens_are_refused()
    {
        await using var token = new TokenServiceFactory("keyrevoke", []);
        var user = await token.SignInAsync(NewUser());
        var compromised = Kid(user.AccessToken);
        var service = await ClientCredentialsTokenAsync(token);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(token, HttpMethod.Get, "/sessions", user.AccessToken)).StatusCode);
        Assert.True(await IntrospectedActiveAsync(token, service));
        var admin = await AdminAsync(token);
        var adminSub = Jwt.Payload(admin).GetProperty("sub").GetString()!;

        var response = await RevokeAsync(token, compromised, admin);

        var body = await HttpAssert.OkJsonAsync<JsonElement>(response);
        Assert.Equal(compromised, body.GetProperty("revokedKeyId").GetString());
        var replacement = body.GetProperty("replacementKeyId").GetString()!;
        Assert.NotEqual(compromised, replacement);
        Assert.Equal(replacement, body.GetProperty("activeKeyId").GetString());
        var published = await JwksKeyIdsAsync(token);
        Assert.DoesNotContain(compromised, published);
        Assert.Contains(replacement, published);

        // Its tokens: refused by the bearer check (user and admin tokens alike), by introspection, by userinfo.
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(token, HttpMethod.Get, "/sessions", user.AccessToken)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(token, HttpMethod.Get, "/admin/signing-keys", admin)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(token, HttpMethod.Get, "/connect/userinfo", user.AccessToken)).StatusCode);
        Assert.False(await IntrospectedActiveAsync(token, service));

        // New tokens carry the replacement and work; a refresh token (never signed by a published key) still redeems.
        var fresh = await token.SignInAsync(NewUser());
        Assert.Equal(replacement, Kid(fresh.AccessToken));
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(token, HttpMethod.Get, "/sessions", fresh.AccessToken)).StatusCode);
        var refreshed = await HttpAssert.OkJsonAsync<TokenResponse>(await token.RefreshAsync(user.RefreshToken!));
        Assert.Equal(replacement, Kid(refreshed.AccessToken));
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(token, HttpMethod.Get, "/sessions", refreshed.AccessToken)).StatusCode);
        Assert.Equal(replacement, Kid(await ClientCredentialsTokenAsync(token)));

        // Recorded: tokendb, the revoked list every service reads, and the audited event with actor and key id.
        Assert.NotNull(token.WithDb(db => db.SigningKeys.AsNoTracking().Single(k => k.Id == compromised).RevokedAt));
        Assert.True(await token.Redis.SetContainsAsync(SessionRevocation.SigningKeysKey, compromised));
        var recorded = token.WithDb(db => db.Set<OutboxMessage>().AsNoTracking().Single(m => m.Type == typeof(Contracts.SigningKeyRevoked).FullName));
        var payload = JsonSerializer.Deserialize<JsonElement>(recorded.Payload);
        Assert.Equal(compromised, payload.GetProperty("keyId").GetString());
        Assert.Equal(replacement, payload.GetProperty("replacementKeyId").GetString());
        Assert.Equal(adminSub, payload.GetProperty("actor").GetString());

        // Again: already revoked; an unknown key: 404. Both problem details, nothing more recorded.
        var again = await RevokeAsync(token, compromised, await AdminAsync(token));
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        Assert.Equal("application/problem+json", again.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.NotFound, (await RevokeAsync(token, "sp-unknown-key", await AdminAsync(token))).StatusCode);
        Assert.Equal(1, RevocationEvents(token));
        var listed = await HttpAssert.OkJsonAsync<JsonElement>(await SendAsync(token, HttpMethod.Get, "/admin/signing-keys", await AdminAsync(token)));
        Assert.Contains(listed.EnumerateArray(), k => k.GetProperty("keyId").GetString() == compromised && k.GetProperty("status").GetString() == "revoked");
        Assert.Contains(listed.EnumerateArray(), k => k.GetProperty("keyId").GetString() == replacement && k.GetProperty("status").GetString() == "active");
    }

    [Fact]
    public async Task A_user_an_admin_without_mfa_and_an_admin_with_a_stale_sign_in_are_refused_and_nothing_changes()
    {
        await using var token = new TokenServiceFactory("keyrefuse", new() { ["Security:RecentAuthenticationWindow"] = "00:00:02" });
        var staleAdmin = await AdminAsync(token);
        var kid = Kid(staleAdmin);
        var user = await token.SignInAsync(NewUser());
        var adminWithoutMfa = (await token.SignInAsync(NewUser(), roles: "admin", amr: "pwd")).AccessToken;
        await Task.Delay(TimeSpan.FromSeconds(3)); // past the recent-sign-in window for the first admin

        Assert.Equal(HttpStatusCode.Unauthorized, (await RevokeAsync(token, kid, null)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await RevokeAsync(token, kid, user.AccessToken)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await RevokeAsync(token, kid, adminWithoutMfa)).StatusCode);
        var stale = await RevokeAsync(token, kid, staleAdmin);
        Assert.Equal(HttpStatusCode.Unauthorized, stale.StatusCode);
        Assert.Contains("insufficient_user_authentication", string.Join(",", stale.Headers.WwwAuthenticate.Select(h => h.ToString())), StringComparison.Ordinal);

        Assert.Null(token.WithDb(db => db.SigningKeys.AsNoTracking().Single(k => k.Id == kid).RevokedAt));
        Assert.Contains(kid, await JwksKeyIdsAsync(token));
        Assert.Equal(kid, Kid((await token.SignInAsync(NewUser())).AccessToken));
        Assert.False(await token.Redis.SetContainsAsync(SessionRevocation.SigningKeysKey, kid));
        Assert.Equal(0, RevocationEvents(token));
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(token, HttpMethod.Get, "/sessions", user.AccessToken)).StatusCode);
    }
}

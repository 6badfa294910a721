using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;
using OpenIddict.EntityFrameworkCore.Models;
using SecurePlatform.ServiceDefaults.Auth;
using SecurePlatform.Messaging;
using SecurePlatform.TestSupport;

namespace SecurePlatform.Token.Tests;

public class TokenFlowTests(TokenServiceFactory token) : IClassFixture<TokenServiceFactory>
{
    private static string NewUser() => "user-" + Guid.NewGuid().ToString("N")[..12];

    [Fact]
    public async Task A_standard_oidc_client_reads_discovery_and_jwks_and_validates_an_issued_token()
    {
        var issued = await token.SignInAsync(NewUser());
        var manager = new ConfigurationManager<OpenIdConnectConfiguration>(
            token.BaseUrl + ".well-known/openid-configuration", new OpenIdConnectConfigurationRetriever(), new HttpDocumentRetriever { RequireHttps = false });

        var configuration = await manager.GetConfigurationAsync(CancellationToken.None);
        var result = await new JsonWebTokenHandler().ValidateTokenAsync(issued.AccessToken, new TokenValidationParameters
        {
            ValidIssuer = configuration.Issuer,
            ValidAudience = PlatformClaims.Audience,
            IssuerSigningKeys = configuration.SigningKeys,
            ValidTypes = ["at+jwt"],
        });

        Assert.True(result.IsValid, result.Exception?.Message);
        Assert.Equal(token.BaseUrl, configuration.Issuer);
        Assert.Contains("urn:secureplatform:grant-type:sign-in", configuration.GrantTypesSupported);
        var rsa = Assert.IsType<JsonWebKey>(configuration.JsonWebKeySet.Keys.First(k => k.KeyId == Jwt.Header(issued.AccessToken).GetProperty("kid").GetString()));
        Assert.True(Base64UrlEncoder.DecodeBytes(rsa.N).Length * 8 >= 2048);
    }

    [Fact]
    public async Task A_sign_in_issues_a_15_minute_rs256_jwt_with_every_contract_claim_and_no_store()
    {
        var sub = NewUser();
        var response = await token.Http.PostAsync("/connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "urn:secureplatform:grant-type:sign-in", ["client_id"] = "auth-service", ["client_secret"] = TokenServiceFactory.AuthServiceSecret,
            ["subject"] = sub, ["amr"] = "pwd", ["roles"] = "admin user", ["scope"] = "openid offline_access",
        }));
        var issued = await HttpAssert.OkJsonAsync<TokenResponse>(response);

        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
        Assert.Contains("no-cache", response.Headers.Pragma.ToString());
        Assert.Equal(3, issued.AccessToken.Split('.').Length); // signed, not encrypted
        var header = Jwt.Header(issued.AccessToken);
        Assert.Equal("RS256", header.GetProperty("alg").GetString());
        Assert.Equal("at+jwt", header.GetProperty("typ").GetString());
        var claims = issued.Payload;
        foreach (var claim in new[] { "iss", "sub", "aud", "exp", "iat", "nbf", "jti", "sid", "scope", "roles", "amr", "auth_time" })
        {
            Assert.True(claims.TryGetProperty(claim, out _), $"missing {claim}");
        }
        Assert.Equal(900, claims.GetProperty("exp").GetInt64() - claims.GetProperty("iat").GetInt64());
        // The sign-in is the authentication: resource servers judge "recent enough" for sensitive actions by it.
        Assert.InRange(claims.GetProperty("auth_time").GetInt64(), DateTimeOffset.UtcNow.AddMinutes(-1).ToUnixTimeSeconds(), DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 1);
        Assert.Equal(["admin", "user"], claims.GetProperty("roles").EnumerateArray().Select(r => r.GetString()!).Order());
        Assert.Equal(JsonValueKind.Array, claims.GetProperty("amr").ValueKind);
        Assert.Equal("platform-app", claims.GetProperty("client_id").GetString());
        Assert.Equal(7, Guid.Parse(issued.Sid).Version);
        Assert.InRange(issued.ExpiresIn, 895, 900); // counted from the moment the response is written
    }

    [Fact]
    public async Task Only_auth_service_with_its_secret_may_use_the_sign_in_grant_and_a_refusal_opens_no_session()
    {
        var sub = NewUser();
        async Task<HttpResponseMessage> Attempt(string clientId, string secret, string target = "platform-app") =>
            await token.Http.PostAsync("/connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["grant_type"] = "urn:secureplatform:grant-type:sign-in", ["client_id"] = clientId, ["client_secret"] = secret,
                ["subject"] = sub, ["amr"] = "pwd", ["target_client_id"] = target,
            }));

        var wrongSecret = await Attempt("auth-service", "not-the-secret");
        var otherClient = await Attempt("worker", TokenServiceFactory.ServiceSecret);
        var notFirstParty = await Attempt("auth-service", TokenServiceFactory.AuthServiceSecret, "third-party-app");
        var unknownTarget = await Attempt("auth-service", TokenServiceFactory.AuthServiceSecret, "nobody");

        Assert.Equal(HttpStatusCode.Unauthorized, wrongSecret.StatusCode);
        Assert.Equal("invalid_client", await wrongSecret.ErrorAsync());
        Assert.Equal(HttpStatusCode.BadRequest, otherClient.StatusCode);
        Assert.Equal("unauthorized_client", await otherClient.ErrorAsync());
        Assert.Equal(HttpStatusCode.BadRequest, notFirstParty.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, unknownTarget.StatusCode);
        Assert.Equal(0, token.WithDb(db => db.Sessions.Count(s => s.Subject == sub)));
    }

    [Fact]
    public async Task A_refresh_rotates_the_pair_and_a_replayed_token_revokes_the_whole_session()
    {
        var sub = NewUser();
        var first = await token.SignInAsync(sub);

        var second = await HttpAssert.OkJsonAsync<TokenResponse>(await token.RefreshAsync(first.RefreshToken!));
        var replay = await token.RefreshAsync(first.RefreshToken!);
        var afterReplay = await token.RefreshAsync(second.RefreshToken!);

        Assert.NotEqual(first.RefreshToken, second.RefreshToken);
        Assert.NotEqual(first.AccessToken, second.AccessToken);
        Assert.Equal(first.Sid, second.Sid);
        Assert.Equal("invalid_grant", await replay.ErrorAsync());
        Assert.Equal("invalid_grant", await afterReplay.ErrorAsync()); // the newest token of the family died too
        var session = token.WithDb(db => db.Sessions.Single(s => s.Id == Guid.Parse(first.Sid)));
        Assert.Equal("refresh_token_reuse", session.RevokedReason);
        Assert.True(await token.Redis.KeyExistsAsync(SessionRevocation.SidKey(first.Sid)));
        var ttl = await token.Redis.KeyTimeToLiveAsync(SessionRevocation.SidKey(first.Sid));
        Assert.True(ttl > TimeSpan.FromMinutes(15), $"revocation key TTL {ttl} must outlive an access token");
        var events = token.WithDb(db => db.Set<OutboxMessage>().AsEnumerable().Where(m => m.Payload.Contains(first.Sid)).Select(m => m.Type.Split('.').Last()).ToList());
        Assert.Contains("SessionCreated", events);
        Assert.Contains("TokenRefreshed", events);
        Assert.Contains("RefreshTokenReuseDetected", events);
        Assert.Contains("SessionRevoked", events);
        // and the access token of that session is refused at once
        using var request = new HttpRequestMessage(HttpMethod.Get, "/sessions");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", second.AccessToken);
        Assert.Equal(HttpStatusCode.Unauthorized, (await token.Http.SendAsync(request)).StatusCode);
    }

    [Fact]
    public async Task A_refreshed_access_token_keeps_the_original_auth_time()
    {
        var first = await token.SignInAsync(NewUser());
        var signedInAt = first.Payload.GetProperty("auth_time").GetInt64();
        await Task.Delay(TimeSpan.FromSeconds(2.1)); // auth_time has whole seconds: a renewed one would differ

        var second = await HttpAssert.OkJsonAsync<TokenResponse>(await token.RefreshAsync(first.RefreshToken!));
        var third = await HttpAssert.OkJsonAsync<TokenResponse>(await token.RefreshAsync(second.RefreshToken!));

        // A refresh is not a sign-in: otherwise refreshing would make any old session "recent".
        Assert.Equal(signedInAt, second.Payload.GetProperty("auth_time").GetInt64());
        Assert.Equal(signedInAt, third.Payload.GetProperty("auth_time").GetInt64());
        Assert.True(second.Payload.GetProperty("iat").GetInt64() >= signedInAt + 2, "the refreshed token is newer than its sign-in");
    }

    [Fact]
    public async Task Acr_says_whether_the_sign_in_had_a_second_factor_and_a_refresh_keeps_it()
    {
        var password = await token.SignInAsync(NewUser(), amr: "pwd");
        var mfa = await token.SignInAsync(NewUser(), amr: "pwd otp mfa");
        var federated = await token.SignInAsync(NewUser(), amr: "fed");

        Assert.Equal("urn:secureplatform:acr:single-factor", password.Payload.GetProperty("acr").GetString());
        Assert.Equal("urn:secureplatform:acr:multi-factor", mfa.Payload.GetProperty("acr").GetString());
        Assert.Equal("urn:secureplatform:acr:single-factor", federated.Payload.GetProperty("acr").GetString());
        var refreshed = await HttpAssert.OkJsonAsync<TokenResponse>(await token.RefreshAsync(mfa.RefreshToken!));
        Assert.Equal("urn:secureplatform:acr:multi-factor", refreshed.Payload.GetProperty("acr").GetString());
    }

    [Fact]
    public async Task The_signed_in_user_is_the_actor_of_their_SessionCreated_with_their_own_address()
    {
        var sub = NewUser();
        var issued = await token.SignInAsync(sub);

        var created = token.WithDb(db => db.Set<OutboxMessage>().AsEnumerable()
            .Single(m => m.Type.EndsWith(".SessionCreated", StringComparison.Ordinal) && m.Payload.Contains(issued.Sid, StringComparison.Ordinal)));
        using var payload = JsonDocument.Parse(created.Payload);
        // audit-service's "by you" compares the actor with the user; auth-service only relayed the sign-in.
        Assert.Equal(sub, payload.RootElement.GetProperty("actor").GetString());
        Assert.Equal(sub, payload.RootElement.GetProperty("subject").GetString());
        Assert.Equal("198.51.100.7", payload.RootElement.GetProperty("ipAddress").GetString());
        Assert.Equal("TokenTests/1.0", payload.RootElement.GetProperty("userAgent").GetString());
    }

    [Fact]
    public async Task A_refresh_token_works_only_for_the_app_it_was_issued_to()
    {
        var issued = await token.SignInAsync(NewUser());

        var stolen = await token.RefreshAsync(issued.RefreshToken!, clientId: "other-app");

        Assert.Equal(HttpStatusCode.BadRequest, stolen.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await token.RefreshAsync(issued.RefreshToken!)).StatusCode);
    }

    [Fact]
    public async Task Client_credentials_issue_a_session_less_token_and_secrets_are_stored_as_keyed_hashes()
    {
        var response = await token.Http.PostAsync("/connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials", ["client_id"] = "worker", ["client_secret"] = TokenServiceFactory.ServiceSecret, ["scope"] = "api",
        }));
        var wrong = await token.Http.PostAsync("/connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials", ["client_id"] = "worker", ["client_secret"] = TokenServiceFactory.ServiceSecret + "x",
        }));

        var issued = await HttpAssert.OkJsonAsync<TokenResponse>(response);
        Assert.Equal("worker", issued.Payload.GetProperty("sub").GetString());
        Assert.False(issued.Payload.TryGetProperty("sid", out _));
        Assert.Null(issued.RefreshToken);
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        var stored = token.WithDb(db => db.Set<OpenIddictEntityFrameworkCoreApplication>().Single(a => a.ClientId == "worker").ClientSecret);
        Assert.StartsWith("hmac-sha256:", stored);
        Assert.DoesNotContain(TokenServiceFactory.ServiceSecret, stored!);
    }

    [Fact]
    public async Task Sessions_can_be_listed_and_revoked_by_their_owner_only()
    {
        var alice = NewUser();
        var a1 = await token.SignInAsync(alice);
        var a2 = await token.SignInAsync(alice);
        var a3 = await token.SignInAsync(alice);
        var mallory = await token.SignInAsync(NewUser());

        var list = await HttpAssert.OkJsonAsync<List<JsonElement>>(await Send(HttpMethod.Get, "/sessions", a1.AccessToken));
        var foreign = await Send(HttpMethod.Delete, $"/sessions/{a2.Sid}", mallory.AccessToken);
        var own = await Send(HttpMethod.Delete, $"/sessions/{a2.Sid}", a1.AccessToken);
        var others = await HttpAssert.OkJsonAsync<JsonElement>(await Send(HttpMethod.Delete, "/sessions", a1.AccessToken));

        Assert.Equal(3, list.Count);
        Assert.True(list.Single(s => s.GetProperty("id").GetString() == a1.Sid).GetProperty("current").GetBoolean());
        Assert.Equal("198.51.100.7", list[0].GetProperty("ipAddress").GetString());
        Assert.Equal(HttpStatusCode.NotFound, foreign.StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, own.StatusCode);
        Assert.Equal(1, others.GetProperty("revoked").GetInt32()); // a3; a2 was already gone, a1 is current
        Assert.Equal(HttpStatusCode.Unauthorized, (await Send(HttpMethod.Get, "/sessions", a3.AccessToken)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Get, "/sessions", a1.AccessToken)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Get, "/sessions", mallory.AccessToken)).StatusCode);
    }

    [Fact]
    public async Task Admin_session_routes_need_the_admin_role_and_a_multi_factor_sign_in()
    {
        var victim = NewUser();
        var victimSession = await token.SignInAsync(victim);
        var user = await token.SignInAsync(NewUser());
        var passwordOnlyAdmin = await token.SignInAsync(NewUser(), roles: "admin");
        var admin = await token.SignInAsync(NewUser(), roles: "admin", amr: "pwd otp mfa");

        var refused = await Send(HttpMethod.Delete, $"/admin/users/{victim}/sessions", user.AccessToken);
        var withoutMfa = await Send(HttpMethod.Get, $"/admin/users/{victim}/sessions", passwordOnlyAdmin.AccessToken);
        var listed = await HttpAssert.OkJsonAsync<List<JsonElement>>(await Send(HttpMethod.Get, $"/admin/users/{victim}/sessions", admin.AccessToken));
        var revoked = await Send(HttpMethod.Delete, $"/admin/users/{victim}/sessions", admin.AccessToken);
        var badSub = await Send(HttpMethod.Get, "/admin/users/%3Cscript%3E/sessions", admin.AccessToken);

        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, withoutMfa.StatusCode); // a stolen admin password alone opens nothing
        Assert.Single(listed);
        Assert.Equal(HttpStatusCode.OK, revoked.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Send(HttpMethod.Get, "/sessions", victimSession.AccessToken)).StatusCode);
        await HttpAssert.IsProblemAsync(badSub, HttpStatusCode.BadRequest);
        Assert.True(await token.Redis.KeyExistsAsync(SessionRevocation.SubKey(victim)));
    }

    [Fact]
    public async Task Browser_mode_refreshes_from_the_cookie_only_with_the_custom_header()
    {
        var issued = await token.SignInAsync(NewUser());
        var before = token.WithDb(db => db.Sessions.Single(s => s.Id == Guid.Parse(issued.Sid)).RefreshTokenHash);

        using var crossSite = CookieRefresh(issued.RefreshToken!, withHeader: false);
        var refused = await token.Http.SendAsync(crossSite);
        var unchanged = token.WithDb(db => db.Sessions.Single(s => s.Id == Guid.Parse(issued.Sid)).RefreshTokenHash);
        using var fromApp = CookieRefresh(issued.RefreshToken!, withHeader: true);
        var accepted = await token.Http.SendAsync(fromApp);

        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Equal(before, unchanged);
        Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
        var body = await accepted.Content.ReadFromJsonAsync<JsonElement>();
        Assert.False(body.TryGetProperty("refresh_token", out _));
        var cookie = Assert.Single(accepted.Headers.GetValues("Set-Cookie"));
        Assert.StartsWith("__Secure-sp_rt=", cookie);
        foreach (var attribute in new[] { "path=/connect/token", "secure", "httponly", "samesite=strict", "max-age=" })
        {
            Assert.Contains(attribute, cookie.ToLowerInvariant());
        }
    }

    [Fact]
    public async Task A_sign_in_in_cookie_delivery_sets_the_cookie_with_the_refresh_tokens_lifetime_and_no_token_in_the_body()
    {
        var response = await token.Http.PostAsync("/connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "urn:secureplatform:grant-type:sign-in", ["client_id"] = "auth-service", ["client_secret"] = TokenServiceFactory.AuthServiceSecret,
            ["subject"] = NewUser(), ["amr"] = "pwd", ["roles"] = "user", ["refresh_token_delivery"] = "cookie",
        }));

        var body = await HttpAssert.OkJsonAsync<JsonElement>(response);
        Assert.False(body.TryGetProperty("refresh_token", out _));
        var cookie = Assert.Single(response.Headers.GetValues("Set-Cookie"));
        Assert.StartsWith("__Secure-sp_rt=", cookie);
        // The session's idle timeout (7 days) comes before its absolute end (30 days).
        Assert.Contains("max-age=604800", cookie.ToLowerInvariant());

        using var rotate = CookieRefresh(cookie.Split(';')[0]["__Secure-sp_rt=".Length..], withHeader: true);
        var accepted = await token.Http.SendAsync(rotate);
        Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
        Assert.Contains("max-age=604800", Assert.Single(accepted.Headers.GetValues("Set-Cookie")).ToLowerInvariant());
    }

    [Fact]
    public async Task Revoking_a_refresh_token_ends_its_session_and_introspection_then_reports_inactive()
    {
        var issued = await token.SignInAsync(NewUser());
        var activeBefore = await IntrospectAsync(issued.AccessToken);

        var revoke = await token.Http.PostAsync("/connect/revoke", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["token"] = issued.RefreshToken!, ["token_type_hint"] = "refresh_token", ["client_id"] = "platform-app",
        }));
        var activeAfter = await IntrospectAsync(issued.AccessToken);
        var notAResourceServer = await token.Http.PostAsync("/connect/introspect", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["token"] = issued.AccessToken, ["client_id"] = "worker", ["client_secret"] = TokenServiceFactory.ServiceSecret,
        }));

        Assert.True(activeBefore);
        Assert.Equal(HttpStatusCode.OK, revoke.StatusCode);
        Assert.False(activeAfter);
        Assert.NotEqual(HttpStatusCode.OK, notAResourceServer.StatusCode);
        Assert.Equal("invalid_grant", await (await token.RefreshAsync(issued.RefreshToken!)).ErrorAsync());
    }

    private async Task<bool> IntrospectAsync(string accessToken)
    {
        var response = await token.Http.PostAsync("/connect/introspect", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["token"] = accessToken, ["client_id"] = "resource-api", ["client_secret"] = TokenServiceFactory.ResourceSecret,
        }));
        return (await HttpAssert.OkJsonAsync<JsonElement>(response)).GetProperty("active").GetBoolean();
    }

    private static HttpRequestMessage CookieRefresh(string refreshToken, bool withHeader)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/connect/token")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = "refresh_token", ["client_id"] = "platform-app" }),
        };
        request.Headers.Add("Cookie", "__Secure-sp_rt=" + refreshToken);
        if (withHeader)
        {
            request.Headers.Add("X-SecurePlatform-Refresh", "1");
        }
        return request;
    }

    private Task<HttpResponseMessage> Send(HttpMethod method, string path, string accessToken)
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        return token.Http.SendAsync(request);
    }
}

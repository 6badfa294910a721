using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using SecurePlatform.TestSupport;

namespace SecurePlatform.Token.Tests;

/// <summary>
/// What token-service shows the outside world: discovery, OpenAPI, userinfo, and the answers a caller gets
/// when it is refused (issue 9, items 2, 3, 4 and 6).
/// </summary>
public class ProtocolSurfaceTests(TokenServiceFactory token) : IClassFixture<TokenServiceFactory>
{
    private static string NewUser() => "surface-" + Guid.NewGuid().ToString("N")[..12];

    private async Task<JsonElement> GetJsonAsync(string path, string? host = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (host is not null)
        {
            request.Headers.Host = host;
        }
        return await HttpAssert.OkJsonAsync<JsonElement>(await token.Http.SendAsync(request));
    }

    // ------------------------------------------------------------------ item 2: Host header

    [Theory]
    [InlineData("evil.example")]
    [InlineData("evil.example:8443")]
    [InlineData("127.0.0.1.evil.example")]
    public async Task Discovery_and_openapi_name_the_configured_issuer_whatever_host_the_request_carries(string host)
    {
        var discovery = await GetJsonAsync("/.well-known/openid-configuration", host);
        var openapi = await GetJsonAsync("/openapi/v1.json", host);

        Assert.Equal(token.BaseUrl, discovery.GetProperty("issuer").GetString());
        Assert.Equal(token.BaseUrl + "connect/token", discovery.GetProperty("token_endpoint").GetString());
        Assert.Equal(token.BaseUrl + "connect/revoke", discovery.GetProperty("revocation_endpoint").GetString());
        Assert.Equal(token.BaseUrl + "connect/introspect", discovery.GetProperty("introspection_endpoint").GetString());
        Assert.Equal(token.BaseUrl + "connect/userinfo", discovery.GetProperty("userinfo_endpoint").GetString());
        Assert.Equal(token.BaseUrl + ".well-known/jwks", discovery.GetProperty("jwks_uri").GetString());
        Assert.DoesNotContain("evil", discovery.ToString());

        var server = Assert.Single(openapi.GetProperty("servers").EnumerateArray());
        Assert.Equal(token.BaseUrl.TrimEnd('/'), server.GetProperty("url").GetString());
        Assert.DoesNotContain("evil", openapi.ToString());
    }

    // ------------------------------------------------------------------ item 3: userinfo takes the header only

    [Fact]
    public async Task Userinfo_refuses_an_access_token_in_the_query_or_the_form_even_next_to_the_header()
    {
        var sub = NewUser();
        var issued = await token.SignInAsync(sub);
        var bearer = new AuthenticationHeaderValue("Bearer", issued.AccessToken);
        var query = "/connect/userinfo?access_token=" + Uri.EscapeDataString(issued.AccessToken);
        var form = () => new FormUrlEncodedContent(new Dictionary<string, string> { ["access_token"] = issued.AccessToken });

        var attempts = new Dictionary<string, HttpRequestMessage>
        {
            ["query"] = new(HttpMethod.Get, query),
            ["form"] = new(HttpMethod.Post, "/connect/userinfo") { Content = form() },
            ["header and query"] = new(HttpMethod.Get, query) { Headers = { Authorization = bearer } },
            ["header and form"] = new(HttpMethod.Post, "/connect/userinfo") { Content = form(), Headers = { Authorization = bearer } },
        };
        foreach (var (how, request) in attempts)
        {
            var response = await token.Http.SendAsync(request);
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{how}: {(int)response.StatusCode} {body}");
            // RFC 6750 §3: the error travels in the challenge.
            Assert.Contains("error=\"invalid_request\"", response.Headers.WwwAuthenticate.ToString());
            Assert.DoesNotContain(sub, body);
        }

        // The header alone still works, and the refused attempts changed nothing: the session is alive.
        using var viaHeader = new HttpRequestMessage(HttpMethod.Get, "/connect/userinfo") { Headers = { Authorization = bearer } };
        var userinfo = await HttpAssert.OkJsonAsync<JsonElement>(await token.Http.SendAsync(viaHeader));
        Assert.Equal(sub, userinfo.GetProperty("sub").GetString());
        Assert.Null(token.WithDb(db => db.Sessions.Single(s => s.Subject == sub).RevokedAt));
    }

    // ------------------------------------------------------------------ item 4: discovery says what works

    [Fact]
    public async Task Discovery_advertises_exactly_what_works()
    {
        var discovery = await GetJsonAsync("/.well-known/openid-configuration");
        string[] Values(string name) => [.. discovery.GetProperty(name).EnumerateArray().Select(v => v.GetString()!).Order(StringComparer.Ordinal)];

        Assert.Equal(
            [
                "acr_values_supported", "authorization_endpoint", "authorization_response_iss_parameter_supported",
                "backchannel_logout_session_supported", "backchannel_logout_supported", "claims_parameter_supported", "claims_supported",
                "code_challenge_methods_supported", "end_session_endpoint", "grant_types_supported", "id_token_signing_alg_values_supported",
                "introspection_endpoint", "introspection_endpoint_auth_methods_supported", "issuer", "jwks_uri", "prompt_values_supported",
                "pushed_authorization_request_endpoint", "pushed_authorization_request_endpoint_auth_methods_supported",
                "request_parameter_supported", "request_uri_parameter_supported", "require_pushed_authorization_requests",
                "response_modes_supported", "response_types_supported",
                "revocation_endpoint", "revocation_endpoint_auth_methods_supported", "scopes_supported", "subject_types_supported",
                "tls_client_certificate_bound_access_tokens", "token_endpoint", "token_endpoint_auth_methods_supported", "userinfo_endpoint",
            ],
            discovery.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
        // The code flow only (no implicit or hybrid response type), PKCE with S256 only, the three prompt values honoured.
        Assert.Equal(["code"], Values("response_types_supported"));
        Assert.Equal(["S256"], Values("code_challenge_methods_supported"));
        Assert.Equal(["consent", "login", "none"], Values("prompt_values_supported"));
        Assert.Equal(["client_secret_basic", "client_secret_post", "none"], Values("pushed_authorization_request_endpoint_auth_methods_supported"));
        Assert.False(discovery.GetProperty("require_pushed_authorization_requests").GetBoolean()); // per client (Clients:<id>:RequirePushedAuthorization)
        Assert.Equal(["authorization_code", "client_credentials", "refresh_token", "urn:secureplatform:grant-type:sign-in"], Values("grant_types_supported"));
        Assert.Equal(["api", "email", "offline_access", "openid", "profile"], Values("scopes_supported"));
        Assert.Equal(["client_secret_basic", "client_secret_post", "none"], Values("token_endpoint_auth_methods_supported"));
        Assert.Equal(["client_secret_basic", "client_secret_post", "none"], Values("revocation_endpoint_auth_methods_supported"));
        Assert.Equal(["client_secret_basic", "client_secret_post"], Values("introspection_endpoint_auth_methods_supported"));
        Assert.Equal(["public"], Values("subject_types_supported"));
        Assert.Equal(["urn:secureplatform:acr:multi-factor", "urn:secureplatform:acr:single-factor"], Values("acr_values_supported"));
        // Back-channel logout (Clients:<id>:BackchannelLogoutUri), with sid in the logout token.
        Assert.True(discovery.GetProperty("backchannel_logout_supported").GetBoolean());
        Assert.True(discovery.GetProperty("backchannel_logout_session_supported").GetBoolean());
        foreach (var flag in new[] { "claims_parameter_supported", "request_parameter_supported", "request_uri_parameter_supported", "tls_client_certificate_bound_access_tokens" })
        {
            Assert.False(discovery.GetProperty(flag).GetBoolean(), flag);
        }

        // And what is advertised works: each scope, each client authentication method.
        var basic = new HttpRequestMessage(HttpMethod.Post, "/connect/token")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = "client_credentials", ["scope"] = "api" }),
            Headers = { Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes("worker:" + TokenServiceFactory.ServiceSecret))) },
        };
        var viaBasic = await HttpAssert.OkJsonAsync<TokenResponse>(await token.Http.SendAsync(basic));
        Assert.Equal("api", viaBasic.Payload.GetProperty("scope").GetString());
        var issued = await token.SignInAsync(NewUser()); // client_secret_post, offline_access
        Assert.NotNull(issued.RefreshToken);
        Assert.Equal(HttpStatusCode.OK, (await token.RefreshAsync(issued.RefreshToken!)).StatusCode); // none (public platform-app)
    }

    [Fact]
    public async Task The_openapi_document_describes_the_connect_endpoints()
    {
        var paths = (await GetJsonAsync("/openapi/v1.json")).GetProperty("paths");

        foreach (var (path, method) in new[]
        {
            ("/connect/token", "post"), ("/connect/revoke", "post"), ("/connect/introspect", "post"), ("/connect/userinfo", "get"),
            ("/.well-known/openid-configuration", "get"), ("/.well-known/jwks", "get"),
        })
        {
            Assert.True(paths.TryGetProperty(path, out var item) && item.TryGetProperty(method, out _), $"{method} {path} missing");
        }
        foreach (var path in new[] { "/connect/token", "/connect/revoke", "/connect/introspect" })
        {
            var operation = paths.GetProperty(path).GetProperty("post");
            Assert.True(operation.GetProperty("requestBody").GetProperty("content").TryGetProperty("application/x-www-form-urlencoded", out _), path);
            Assert.True(operation.GetProperty("responses").TryGetProperty("200", out _), path);
            Assert.True(operation.GetProperty("responses").TryGetProperty("400", out _), path);
        }
        Assert.True(paths.GetProperty("/connect/token").GetProperty("post").GetProperty("responses").TryGetProperty("401", out _));
        Assert.True(paths.GetProperty("/connect/userinfo").GetProperty("get").GetProperty("responses").TryGetProperty("401", out _));
    }

    // ------------------------------------------------------------------ item 6: no oracles

    [Fact]
    public async Task Unknown_clients_and_wrong_secrets_get_the_same_answer_at_the_token_endpoint()
    {
        async Task<(HttpStatusCode Status, string Body, string Challenge)> Attempt(Dictionary<string, string> form)
        {
            var response = await token.Http.PostAsync("/connect/token", new FormUrlEncodedContent(form));
            return (response.StatusCode, await response.Content.ReadAsStringAsync(), string.Join(", ", response.Headers.WwwAuthenticate));
        }

        var unknownClient = await Attempt(new() { ["grant_type"] = "client_credentials", ["client_id"] = "nobody-" + Guid.NewGuid().ToString("N")[..8], ["client_secret"] = "some-secret" });
        var wrongSecret = await Attempt(new() { ["grant_type"] = "client_credentials", ["client_id"] = "worker", ["client_secret"] = "some-secret" });
        var unknownWithoutSecret = await Attempt(new() { ["grant_type"] = "refresh_token", ["client_id"] = "nobody-" + Guid.NewGuid().ToString("N")[..8], ["refresh_token"] = "x" });
        var confidentialWithoutSecret = await Attempt(new() { ["grant_type"] = "refresh_token", ["client_id"] = "worker", ["refresh_token"] = "x" });
        var publicWithSecret = await Attempt(new() { ["grant_type"] = "refresh_token", ["client_id"] = "platform-app", ["client_secret"] = "some-secret", ["refresh_token"] = "x" });

        Assert.Equal(HttpStatusCode.Unauthorized, unknownClient.Status);
        Assert.Contains("\"invalid_client\"", unknownClient.Body);
        foreach (var other in new[] { wrongSecret, unknownWithoutSecret, confidentialWithoutSecret, publicWithSecret })
        {
            Assert.Equal(unknownClient, other);
        }
        Assert.DoesNotContain("client_id", unknownClient.Body + unknownClient.Challenge);
        Assert.DoesNotContain("error_uri", unknownClient.Body + unknownClient.Challenge);

        // Nothing changed: the worker's own secret still works.
        Assert.Equal(HttpStatusCode.OK, (await token.Http.PostAsync("/connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials", ["client_id"] = "worker", ["client_secret"] = TokenServiceFactory.ServiceSecret, ["scope"] = "api",
        }))).StatusCode);
    }

    [Fact]
    public async Task A_client_not_allowed_to_introspect_gets_the_same_refusal_for_a_valid_token_and_a_bad_one()
    {
        var issued = await token.SignInAsync(NewUser());
        var tampered = issued.AccessToken[..^4] + (issued.AccessToken.EndsWith("AAAA", StringComparison.Ordinal) ? "BBBB" : "AAAA");
        async Task<(HttpStatusCode Status, string Body)> Introspect(string accessToken, string clientId, string? secret)
        {
            var form = new Dictionary<string, string> { ["token"] = accessToken, ["client_id"] = clientId };
            if (secret is not null)
            {
                form["client_secret"] = secret;
            }
            var response = await token.Http.PostAsync("/connect/introspect", new FormUrlEncodedContent(form));
            return (response.StatusCode, await response.Content.ReadAsStringAsync());
        }

        foreach (var (clientId, secret) in new[] { ("platform-app", (string?)null), ("worker", TokenServiceFactory.ServiceSecret) })
        {
            var valid = await Introspect(issued.AccessToken, clientId, secret);
            Assert.Equal(HttpStatusCode.BadRequest, valid.Status);
            Assert.Contains("\"unauthorized_client\"", valid.Body);
            Assert.DoesNotContain("active", valid.Body);
            foreach (var other in new[] { "garbage", tampered, issued.RefreshToken! })
            {
                Assert.Equal(valid, await Introspect(other, clientId, secret));
            }
        }

        // Nothing changed: a resource server still sees the token active, and a bad one inactive.
        bool Active((HttpStatusCode Status, string Body) answer) => JsonSerializer.Deserialize<JsonElement>(answer.Body).GetProperty("active").GetBoolean();
        Assert.True(Active(await Introspect(issued.AccessToken, "resource-api", TokenServiceFactory.ResourceSecret)));
        Assert.False(Active(await Introspect("garbage", "resource-api", TokenServiceFactory.ResourceSecret)));
    }
}

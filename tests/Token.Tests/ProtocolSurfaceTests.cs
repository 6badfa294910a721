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
}

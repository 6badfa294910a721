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
}

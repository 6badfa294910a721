using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using SecurePlatform.TestSupport;

namespace SecurePlatform.ServiceDefaults.Tests;

/// <summary>
/// What a request can make a service say about itself: the Host header (issue 9 item 2) and the refusals
/// Kestrel writes before any middleware runs (item 8).
/// </summary>
public class PublicSurfaceTests
{
    private static Task<(Microsoft.AspNetCore.Builder.WebApplication App, HttpClient Client)> StartAsync(string environment, Dictionary<string, string?>? settings = null)
        => SecurityDefaultsTests.StartAsync(environment, settings);

    private static async Task<HttpResponseMessage> GetAsync(HttpClient client, string path, string host)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Host = host;
        return await client.SendAsync(request);
    }

    [Theory]
    [InlineData("Production", "https://api.example.test/")]
    [InlineData("Development", "https://api.example.test/")]
    [InlineData("Development", null)]
    public async Task Openapi_servers_name_the_configured_public_base_url_never_the_request_host(string environment, string? publicBaseUrl)
    {
        var (app, client) = await StartAsync(environment, new() { ["Security:PublicBaseUrl"] = publicBaseUrl });
        await using var _ = app;

        // Production refuses foreign hosts outright (next test); Development serves them, without reflecting them.
        var host = environment == "Production" ? "api.example.test" : "evil.example";
        var document = await HttpAssert.OkJsonAsync<JsonElement>(await GetAsync(client, "/openapi/v1.json", host));

        var servers = document.TryGetProperty("servers", out var list) ? [.. list.EnumerateArray().Select(s => s.GetProperty("url").GetString()!)] : Array.Empty<string>();
        Assert.Equal(publicBaseUrl is null ? [] : ["https://api.example.test"], servers);
        Assert.DoesNotContain("evil", document.ToString());
    }

    [Theory]
    [InlineData(null)]
    [InlineData("*")]
    public async Task Outside_development_a_foreign_host_is_refused_with_the_security_headers(string? allowedHosts)
    {
        var (app, client) = await StartAsync("Production", new() { ["Security:PublicBaseUrl"] = "https://api.example.test/", ["AllowedHosts"] = allowedHosts });
        await using var _ = app;

        foreach (var foreign in new[] { "evil.example", "api.example.test.evil.example", "evil.example:443" })
        {
            var refused = await GetAsync(client, "/openapi/v1.json", foreign);
            var body = await refused.Content.ReadAsStringAsync();
            Assert.True(refused.StatusCode == HttpStatusCode.BadRequest, $"{foreign}: {(int)refused.StatusCode} {body}");
            Assert.DoesNotContain("evil", body);
            Assert.DoesNotContain("paths", body);
            HttpAssert.HasSecurityHeaders(refused);
        }

        // The public host and loopback (probes, the machine itself) are served.
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(client, "/whoami", "api.example.test")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(client, "/whoami", "API.example.test:8443")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/alive")).StatusCode);
    }

    [Fact]
    public async Task Outside_development_allowed_hosts_adds_the_names_it_lists()
    {
        var (app, client) = await StartAsync("Production", new() { ["AllowedHosts"] = "token-service;*.internal.example" });
        await using var _ = app;

        Assert.Equal(HttpStatusCode.OK, (await GetAsync(client, "/whoami", "token-service")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(client, "/whoami", "a.internal.example")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await GetAsync(client, "/whoami", "evil.example")).StatusCode);
    }
}

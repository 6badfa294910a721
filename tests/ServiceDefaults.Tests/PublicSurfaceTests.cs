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

    /// <summary>
    /// Documents a limit (README, "Production notes"): Kestrel answers a request it cannot parse itself, before
    /// any middleware, and resets the response headers to Date/Content-Length/Connection; there is no hook to add
    /// ours. If this test fails because the headers appear, a Kestrel update made it possible: assert
    /// <see cref="HttpAssert.HasSecurityHeaders"/> instead and update the README.
    /// </summary>
    [Theory]
    [InlineData("header too large", 431)]
    [InlineData("request line too long", 414)]
    [InlineData("malformed header", 400)]
    [InlineData("malformed request line", 400)]
    public async Task Kestrel_refusals_before_the_pipeline_carry_no_security_headers_and_disclose_nothing(string what, int status)
    {
        var (app, client) = await StartAsync("Production");
        await using var _ = app;

        var request = what switch
        {
            "header too large" => $"GET /alive HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: {new string('a', 40 * 1024)}\r\n\r\n",
            "request line too long" => $"GET /alive?{new string('a', 10 * 1024)} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
            "malformed header" => "GET /alive HTTP/1.1\r\nHost: 127.0.0.1\r\nno colon here\r\n\r\n",
            _ => "GET /alive HTTP/9.9 extra\r\nHost: 127.0.0.1\r\n\r\n",
        };
        var response = await RawAsync(client.BaseAddress!, request);

        Assert.StartsWith($"HTTP/1.1 {status} ", response);
        var headers = response.Split("\r\n\r\n")[0].Split("\r\n").Skip(1).Select(h => h.Split(':')[0].ToLowerInvariant()).Order().ToArray();
        Assert.Equal(["connection", "content-length", "date"], headers);
        Assert.Contains("\r\nContent-Length: 0\r\n", response);
        Assert.EndsWith("\r\n\r\n", response); // no body: nothing about the server or the request is echoed

        // The service itself is unaffected.
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/alive")).StatusCode);
    }

    private static async Task<string> RawAsync(Uri baseAddress, string request)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(baseAddress.Host, baseAddress.Port);
        var stream = tcp.GetStream();
        try
        {
            await stream.WriteAsync(Encoding.ASCII.GetBytes(request));
        }
        catch (IOException)
        {
            // Kestrel may answer and close before it has read everything we send.
        }
        using var reader = new StreamReader(stream, Encoding.ASCII);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        return await reader.ReadToEndAsync(timeout.Token);
    }
}

using System.Net;
using System.Net.Http.Json;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using SecurePlatform.TestSupport;

namespace SecurePlatform.ServiceDefaults.Tests;

/// <summary>The shared pipeline on a real Kestrel listener, in the environments that behave differently.</summary>
public class SecurityDefaultsTests
{
    private sealed record EchoRequest(string Name);

    internal static async Task<(WebApplication App, HttpClient Client)> StartAsync(string environment, Dictionary<string, string?>? settings = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = environment });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Security:RequireHttps"] = "false",
            // Production needs TLS here or at a proxy: a documentation network (no traffic) stands for the proxy.
            ["Security:KnownNetworks:0"] = "192.0.2.0/24",
            ["Logging:LogLevel:Default"] = "Warning",
        });
        builder.Configuration.AddInMemoryCollection(settings ?? []);
        builder.AddServiceDefaults();
        var app = builder.Build();
        app.UseServiceDefaults();
        app.MapDefaultEndpoints();
        app.MapPost("/echo", (EchoRequest body) => TypedResults.Ok(body));
        app.MapGet("/boom", string () => throw new InvalidOperationException("SELECT password FROM users failed at Npgsql"));
        app.MapGet("/whoami", (HttpContext context) => TypedResults.Ok(new { ip = context.Connection.RemoteIpAddress?.ToString(), https = context.Request.IsHttps }));
        await app.StartAsync();
        return (app, new HttpClient { BaseAddress = new Uri(app.Urls.First()) });
    }

    [Theory]
    [InlineData("Production")]
    [InlineData("Development")]
    public async Task Unknown_route_is_a_problem_404_with_security_headers(string environment)
    {
        var (app, client) = await StartAsync(environment);
        await using var _ = app;

        var response = await client.GetAsync("/no/such/route");

        await HttpAssert.IsProblemAsync(response, HttpStatusCode.NotFound);
        HttpAssert.HasSecurityHeaders(response);
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
    }

    [Theory]
    [InlineData("Production")]
    [InlineData("Development")]
    public async Task Malformed_json_is_a_problem_400_without_internal_detail(string environment)
    {
        var (app, client) = await StartAsync(environment);
        await using var _ = app;

        var response = await client.PostAsync("/echo", new StringContent("{\"name\": \"x\",,}", Encoding.UTF8, "application/json"));

        var problem = await HttpAssert.IsProblemAsync(response, HttpStatusCode.BadRequest);
        HttpAssert.HasSecurityHeaders(response);
        Assert.DoesNotContain("EchoRequest", problem.ToString());
    }

    [Fact]
    public async Task An_unhandled_exception_is_a_generic_500_with_a_trace_id_and_no_exception_text()
    {
        var (app, client) = await StartAsync("Production");
        await using var _ = app;

        var response = await client.GetAsync("/boom");

        var problem = await HttpAssert.IsProblemAsync(response, HttpStatusCode.InternalServerError);
        HttpAssert.HasSecurityHeaders(response);
        Assert.Equal("An unexpected error occurred.", problem.GetProperty("title").GetString());
        Assert.DoesNotContain("SELECT", problem.ToString());
        Assert.DoesNotContain("Npgsql", problem.ToString());
        Assert.Matches("^[0-9a-f]{32}$", problem.GetProperty("traceId").GetString());
    }

    [Theory]
    [InlineData("Development", true)]
    [InlineData("Production", false)]
    public async Task The_interactive_API_reference_is_served_in_Development_only_with_its_own_CSP(string environment, bool served)
    {
        var (app, client) = await StartAsync(environment);
        await using var _ = app;

        var response = await client.GetAsync("/scalar");

        if (served)
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal(ServiceDefaultsExtensions.ScalarContentSecurityPolicy, response.Headers.GetValues("Content-Security-Policy").Single());
            Assert.DoesNotContain("cdn.", await response.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);
        }
        else
        {
            await HttpAssert.IsProblemAsync(response, HttpStatusCode.NotFound);
        }
    }

    [Fact]
    public async Task A_body_over_the_default_limit_is_refused_with_413()
    {
        var (app, client) = await StartAsync("Development", new() { ["Security:MaxRequestBodyBytes"] = "1024" });
        await using var _ = app;

        var response = await client.PostAsJsonAsync("/echo", new EchoRequest(new string('x', 4096)));

        await HttpAssert.IsProblemAsync(response, HttpStatusCode.RequestEntityTooLarge);
        HttpAssert.HasSecurityHeaders(response);
    }

    [Fact]
    public async Task Cors_answers_only_origins_on_the_allow_list()
    {
        var (app, client) = await StartAsync("Production", new() { ["Security:Cors:AllowedOrigins:0"] = "https://app.example" });
        await using var _ = app;

        foreach (var (origin, allowed) in new[] { ("https://app.example", true), ("https://evil.example", false), ("https://app.example.evil.example", false), ("null", false) })
        {
            using var preflight = new HttpRequestMessage(HttpMethod.Options, "/echo");
            preflight.Headers.Add("Origin", origin);
            preflight.Headers.Add("Access-Control-Request-Method", "POST");
            var response = await client.SendAsync(preflight);
            Assert.Equal(allowed, response.Headers.TryGetValues("Access-Control-Allow-Origin", out var values));
            if (allowed)
            {
                Assert.Equal(origin, Assert.Single(values!));
            }
        }
    }

    [Fact]
    public async Task Forwarded_headers_from_an_unconfigured_proxy_are_ignored()
    {
        var (app, client) = await StartAsync("Production");
        await using var _ = app;

        using var request = new HttpRequestMessage(HttpMethod.Get, "/whoami");
        request.Headers.Add("X-Forwarded-For", "203.0.113.9");
        request.Headers.Add("X-Forwarded-Proto", "https");
        var body = await HttpAssert.OkJsonAsync<Dictionary<string, object>>(await client.SendAsync(request));

        Assert.Equal("127.0.0.1", body["ip"].ToString());
        Assert.Equal("False", body["https"].ToString());
    }

    [Theory]
    [InlineData("Security:KnownProxies:0", "proxy.example")]
    [InlineData("Security:KnownNetworks:0", "10.0.0.0/33")]
    [InlineData("Security:Cors:AllowedOrigins:0", "https://*.example")]
    [InlineData("Security:MaxRequestBodyBytes", "0")]
    public async Task A_bad_security_setting_refuses_to_start_naming_the_setting(string setting, string value)
    {
        var error = await Record.ExceptionAsync(async () => await (await StartAsync("Production", new() { [setting] = value })).App.DisposeAsync());

        var validation = Assert.IsType<Microsoft.Extensions.Options.OptionsValidationException>(error);
        Assert.Contains(validation.Failures, f => f.StartsWith(setting + " ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Behind_a_configured_proxy_https_requests_get_a_one_year_hsts_header()
    {
        var (app, client) = await StartAsync("Production", new() { ["Security:KnownProxies:0"] = "127.0.0.1" });
        await using var _ = app;

        using var request = new HttpRequestMessage(HttpMethod.Get, "/whoami");
        request.Headers.Add("X-Forwarded-For", "203.0.113.9");
        request.Headers.Add("X-Forwarded-Proto", "https");
        var response = await client.SendAsync(request);
        var body = await HttpAssert.OkJsonAsync<Dictionary<string, object>>(response);

        Assert.Equal("203.0.113.9", body["ip"].ToString());
        Assert.Equal("max-age=31536000; includeSubDomains", string.Join(", ", response.Headers.GetValues("Strict-Transport-Security")));
    }

    [Fact]
    public async Task Outside_development_plain_http_is_refused_not_redirected_but_probes_answer()
    {
        var (app, client) = await StartAsync("Production", new() { ["Security:RequireHttps"] = "true" });
        await using var _ = app;

        var refused = await client.GetAsync("/whoami");
        var probe = await client.GetAsync("/alive");

        var problem = await HttpAssert.IsProblemAsync(refused, HttpStatusCode.BadRequest);
        Assert.Equal("HTTPS is required.", problem.GetProperty("title").GetString());
        Assert.Null(refused.Headers.Location);
        Assert.Equal(HttpStatusCode.OK, probe.StatusCode);
    }

    [Fact]
    public async Task Every_service_publishes_an_openapi_document()
    {
        var (app, client) = await StartAsync("Production");
        await using var _ = app;

        var document = await client.GetStringAsync("/openapi/v1.json");

        Assert.Contains("\"/echo\"", document);
    }
}

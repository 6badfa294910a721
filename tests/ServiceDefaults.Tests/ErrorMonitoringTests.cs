using System.Collections.Concurrent;
using System.IO.Compression;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Trace;
using SecurePlatform.ServiceDefaults.Telemetry;
using SecurePlatform.TestSupport;

namespace SecurePlatform.ServiceDefaults.Tests;

/// <summary>
/// The real Sentry SDK sending to a local endpoint that speaks its envelope protocol: a service throws while
/// handling a request full of secrets, and what arrives holds the error and none of them.
/// </summary>
public class ErrorMonitoringTests
{
    private const string Email = "ada.lovelace@example.org";
    private const string Password = "Correct-Horse-Battery-Staple-9";
    private const string Cookie = "cookie-value-5f1c2a9e";
    private const string ClientIp = "203.0.113.9";
    private static readonly string Bearer = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhZGEifQ.c2lnbmF0dXJlLXNpZ25hdHVyZQ";

    [Fact]
    public async Task An_unhandled_exception_reaches_sentry_without_credentials_cookies_emails_or_ip_addresses()
    {
        await using var sentry = await FakeSentry.StartAsync();
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Production" });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Security:RequireHttps"] = "false",
            // Production needs TLS here or at a proxy: a documentation network (no traffic) stands for the proxy.
            ["Security:KnownNetworks:0"] = "192.0.2.0/24",
            ["Logging:LogLevel:Default"] = "Warning",
            [ErrorMonitoring.DsnSetting] = $"http://publickey@127.0.0.1:{sentry.Port}/42",
        });
        builder.AddServiceDefaults();
        await using var app = builder.Build();
        app.UseServiceDefaults();
        app.MapPost("/boom", string (HttpContext http, ILogger<ErrorMonitoringTests> logger) =>
        {
            logger.LogWarning("Sign-in attempt for {Email} from {Ip} with password={Password}", Email, ClientIp, Password);
            throw new InvalidOperationException($"Lookup failed for {Email} at {ClientIp} (token {Bearer}, password: {Password})");
        });
        await app.StartAsync();

        using var client = new HttpClient { BaseAddress = new Uri(app.Urls.First()) };
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/boom?email={Uri.EscapeDataString(Email)}&access_token={Bearer}")
        {
            Content = new StringContent($$"""{"email":"{{Email}}","password":"{{Password}}"}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new("Bearer", Bearer);
        request.Headers.Add("Cookie", "__Secure-sp_rt=" + Cookie);
        request.Headers.Add("X-Forwarded-For", ClientIp);
        var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        await Eventually.HoldsAsync(() => Task.FromResult(sentry.Envelopes.Any(e => e.Contains("\"type\":\"event\"", StringComparison.Ordinal))),
            TimeSpan.FromSeconds(20), "an event envelope arrived");
        var envelope = sentry.Envelopes.First(e => e.Contains("\"type\":\"event\"", StringComparison.Ordinal));
        Assert.Contains("InvalidOperationException", envelope);
        Assert.Contains("Lookup failed for", envelope); // the message is kept, its values are not
        foreach (var secret in new[] { Email, Uri.EscapeDataString(Email), Password, Cookie, ClientIp, Bearer })
        {
            Assert.DoesNotContain(secret, envelope, StringComparison.OrdinalIgnoreCase);
        }
    }

    [Fact]
    public async Task An_unhandled_exception_is_an_error_on_its_request_span_without_the_secrets_it_carried()
    {
        var spans = new List<System.Diagnostics.Activity>();
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Production" });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Security:RequireHttps"] = "false",
            ["Security:KnownNetworks:0"] = "192.0.2.0/24",
            ["Logging:LogLevel:Default"] = "Warning",
        });
        builder.AddServiceDefaults();
        builder.Services.ConfigureOpenTelemetryTracerProvider(tracing => tracing.AddInMemoryExporter(spans));
        await using var app = builder.Build();
        app.UseServiceDefaults();
        app.MapPost("/boom", string () => throw new InvalidOperationException($"Lookup failed for {Email} at {ClientIp} (token {Bearer}, password: {Password})"));
        await app.StartAsync();

        using var client = new HttpClient { BaseAddress = new Uri(app.Urls.First()) };
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/boom?email={Uri.EscapeDataString(Email)}") { Content = new StringContent("{}", Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new("Bearer", Bearer);
        Assert.Equal(HttpStatusCode.InternalServerError, (await client.SendAsync(request)).StatusCode);
        await app.StopAsync(); // flushes the exporter

        System.Diagnostics.Activity span;
        lock (spans)
        {
            span = Assert.Single(spans, s => s.Kind == System.Diagnostics.ActivityKind.Server && s.DisplayName.Contains("/boom", StringComparison.Ordinal));
        }
        Assert.Equal(System.Diagnostics.ActivityStatusCode.Error, span.Status);
        var exception = Assert.Single(span.Events, e => e.Name == "exception");
        Assert.Contains(exception.Tags, t => t.Key == "exception.type" && (t.Value as string ?? "").Contains("InvalidOperationException", StringComparison.Ordinal));
        var exported = string.Join("\n", span.TagObjects.Select(t => $"{t.Key}={t.Value}")
            .Concat(span.Events.SelectMany(e => e.Tags.Select(t => $"{e.Name}.{t.Key}={t.Value}")))
            .Append(span.StatusDescription ?? ""));
        foreach (var secret in new[] { Email, Uri.EscapeDataString(Email), Password, ClientIp, Bearer })
        {
            Assert.DoesNotContain(secret, exported, StringComparison.OrdinalIgnoreCase);
        }
    }

    [Theory]
    [InlineData("user ada@example.org failed", "user [redacted] failed")]
    [InlineData("from 203.0.113.9 and ::ffff:10.0.0.1", "from [redacted] and [redacted]")]
    [InlineData("Authorization: Bearer abc.def-ghi", "Authorization: Bearer [redacted]")]
    [InlineData("password=hunter22&x=1", "password=[redacted]&x=1")]
    [InlineData("\"client_secret\": \"s3cr3t\"", "\"client_secret\": \"[redacted]\"")]
    [InlineData("nothing to hide here", "nothing to hide here")]
    public void Text_scrubbing_removes_what_it_must_and_keeps_the_rest(string input, string expected)
        => Assert.Equal(expected, SensitiveDataScrubber.ScrubText(input));

    [Theory]
    [InlineData("Authorization", true)]
    [InlineData("Cookie", true)]
    [InlineData("X-Forwarded-For", true)]
    [InlineData("refresh_token", true)]
    [InlineData("Email", true)]
    [InlineData("Content-Type", false)]
    [InlineData("User-Agent", false)]
    public void Sensitive_names_are_recognised(string name, bool sensitive)
        => Assert.Equal(sensitive, SensitiveDataScrubber.IsSensitiveName(name));

    /// <summary>Accepts Sentry envelopes (<c>POST /api/{project}/envelope/</c>, gzip or plain) and keeps their text.</summary>
    private sealed class FakeSentry : IAsyncDisposable
    {
        private readonly WebApplication _app;

        private FakeSentry(WebApplication app) => _app = app;

        public ConcurrentQueue<string> Envelopes { get; } = new();

        public int Port => new Uri(_app.Urls.First()).Port;

        public static async Task<FakeSentry> StartAsync()
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
            var app = builder.Build();
            var fake = new FakeSentry(app);
            app.MapPost("/api/{project}/envelope/", async (HttpRequest request) =>
            {
                Stream body = request.Body;
                if (request.Headers.ContentEncoding.ToString().Contains("gzip", StringComparison.OrdinalIgnoreCase))
                {
                    body = new GZipStream(request.Body, CompressionMode.Decompress);
                }
                using var reader = new StreamReader(body);
                fake.Envelopes.Enqueue(await reader.ReadToEndAsync());
                return Results.Json(new { id = Guid.NewGuid().ToString("N") });
            });
            await app.StartAsync();
            return fake;
        }

        public async ValueTask DisposeAsync() => await _app.DisposeAsync();
    }
}

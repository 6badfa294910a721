using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using SecurePlatform.Profile.Infrastructure;
using SecurePlatform.TestSupport;

namespace SecurePlatform.Profile.Tests;

/// <summary>
/// Without the other services the export still answers, and says what it could not include and why. (The export
/// with a real auth-service answering is in EndToEnd.Tests: auth-service validates token-service's tokens, which this
/// fixture's test signing key is not.)
/// </summary>
public class ExportTests(ProfileFactory profile) : IClassFixture<ProfileFactory>
{
    [Fact]
    public async Task An_export_whose_other_sources_are_away_says_so_instead_of_leaving_them_out_silently()
    {
        var sub = "user-" + Guid.NewGuid().ToString("N")[..12];
        var client = profile.ClientWith(TestTokens.Issue(sub));
        (await client.PutAsJsonAsync("/profiles/me", new { displayName = "Ada" })).EnsureSuccessStatusCode();

        var response = await client.GetAsync("/profiles/me/export");

        var export = await HttpAssert.OkJsonAsync<JsonElement>(response);
        Assert.False(export.GetProperty("complete").GetBoolean());
        Assert.Equal("Ada", export.GetProperty("profile").GetProperty("displayName").GetString());
        Assert.Equal(sub, export.GetProperty("profile").GetProperty("sub").GetString());
        foreach (var source in new[] { "auth-service", "token-service", "audit-service" })
        {
            Assert.NotEqual(ExportSourceStatus.Ok, export.GetProperty("sources").GetProperty(source).GetString());
        }
        Assert.Equal(JsonValueKind.Null, export.GetProperty("account").ValueKind);
        Assert.Equal(JsonValueKind.Null, export.GetProperty("sessions").ValueKind);
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
        Assert.StartsWith("attachment", response.Content.Headers.ContentDisposition?.ToString() ?? response.Headers.GetValues("Content-Disposition").Single());
    }

    [Fact]
    public async Task An_auth_service_that_does_not_answer_in_time_is_named_timed_out_and_the_rest_of_the_export_still_comes()
    {
        using var silent = new TcpListener(System.Net.IPAddress.Loopback, 0);
        silent.Start();
        var held = new ConcurrentQueue<Socket>();
        var accepting = AcceptForeverAsync(silent, held); // accepts, reads nothing, never answers
        await using var app = new ProfileFactory(new() { ["services:auth-service:http:0"] = $"http://127.0.0.1:{((IPEndPoint)silent.LocalEndpoint).Port}" });
        var sub = "user-" + Guid.NewGuid().ToString("N")[..12];
        var client = app.ClientWith(TestTokens.Issue(sub));
        (await client.PutAsJsonAsync("/profiles/me", new { displayName = "Grace" })).EnsureSuccessStatusCode();

        var clock = Stopwatch.StartNew();
        var response = await client.GetAsync("/profiles/me/export");
        var elapsed = clock.Elapsed;

        var export = await HttpAssert.OkJsonAsync<JsonElement>(response);
        Assert.Equal(ExportSourceStatus.TimedOut, export.GetProperty("sources").GetProperty("auth-service").GetString());
        Assert.Equal(JsonValueKind.Null, export.GetProperty("account").ValueKind);
        Assert.False(export.GetProperty("complete").GetBoolean());
        Assert.Equal("Grace", export.GetProperty("profile").GetProperty("displayName").GetString());
        Assert.True(!held.IsEmpty, "the export did call auth-service");
        Assert.True(elapsed >= AuthServiceClient.Budget * 0.9, $"it waited for the budget ({elapsed})");
        Assert.True(elapsed < TimeSpan.FromSeconds(30), $"the budget bounded the wait ({elapsed})");
        silent.Stop();
        await accepting;
        foreach (var socket in held)
        {
            socket.Dispose();
        }
    }

    [Fact]
    public async Task An_auth_service_that_refuses_connections_is_named_unavailable()
    {
        var closedPort = ServiceProcess.FreePort();
        await using var app = new ProfileFactory(new() { ["services:auth-service:http:0"] = $"http://127.0.0.1:{closedPort}" });
        var client = app.ClientWith(TestTokens.Issue("user-" + Guid.NewGuid().ToString("N")[..12]));

        var export = await HttpAssert.OkJsonAsync<JsonElement>(await client.GetAsync("/profiles/me/export"));

        Assert.Equal(ExportSourceStatus.Unavailable, export.GetProperty("sources").GetProperty("auth-service").GetString());
        Assert.Equal(JsonValueKind.Null, export.GetProperty("account").ValueKind);
        Assert.False(export.GetProperty("complete").GetBoolean());
    }

    private static async Task AcceptForeverAsync(TcpListener listener, ConcurrentQueue<Socket> held)
    {
        try
        {
            while (true)
            {
                held.Enqueue(await listener.AcceptSocketAsync());
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // stopped
        }
    }
}

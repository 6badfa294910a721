using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using SecurePlatform.TestSupport;

namespace SecurePlatform.EndToEnd.Tests;

/// <summary>The four services as real processes on loopback against the shared servers, for the whole class.</summary>
public sealed class PlatformFixture : IAsyncLifetime
{
    public Platform Platform { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var infra = new[] { "postgres", "authdb", "tokendb", "auditdb", "profiledb", "redis", "rabbitmq" }
            .ToDictionary(n => n, TestEnvironment.ConnectionString);
        Platform = await Platform.StartAsync(infra, "e2e");
        using var http = new HttpClient();
        foreach (var service in Platform.Processes.Values)
        {
            await Eventually.HoldsAsync(async () => (await http.GetAsync(new Uri(service.BaseAddress, "/health"))).IsSuccessStatusCode,
                TimeSpan.FromSeconds(90), $"{service.Project} healthy");
        }
    }

    public Task DisposeAsync() => Platform.DisposeAsync().AsTask();
}

/// <summary>A person using the platform the way a client app does.</summary>
public sealed class User(Platform platform, string email, string password)
{
    public string Email { get; } = email;

    public string Password { get; private set; } = password;

    public static User New(Platform platform) =>
        new(platform, $"e2e-{Guid.NewGuid():N}@example.test"[..40] + ".test", "Correct-Horse-" + Guid.NewGuid().ToString("N")[..10]);

    public async Task RegisterAsync()
    {
        var response = await Http(platform.Auth).PostAsJsonAsync("/auth/register", new { email = Email, password = Password });
        Assert.True(response.IsSuccessStatusCode, $"register: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    public async Task<Tokens> LoginAsync(string userAgent = "e2e-tests/1.0")
    {
        var client = Http(platform.Auth);
        client.DefaultRequestHeaders.UserAgent.ParseAdd(userAgent);
        var response = await client.PostAsJsonAsync("/auth/login", new { email = Email, password = Password });
        return Tokens.From(await HttpAssert.OkJsonAsync<JsonElement>(response));
    }

    public async Task<HttpResponseMessage> ChangePasswordAsync(Tokens tokens, string newPassword)
    {
        var response = await Http(platform.Auth, tokens.Access).PostAsJsonAsync("/auth/password/change", new { currentPassword = Password, newPassword });
        if (response.IsSuccessStatusCode)
        {
            Password = newPassword;
        }
        return response;
    }

    public static HttpClient Http(ServiceProcess service, string? accessToken = null)
    {
        var client = new HttpClient { BaseAddress = service.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        if (accessToken is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        }
        return client;
    }
}

public sealed record Tokens(string Access, string Refresh, int ExpiresIn)
{
    public static Tokens From(JsonElement json) =>
        new(json.GetProperty("access_token").GetString()!, json.GetProperty("refresh_token").GetString()!, json.GetProperty("expires_in").GetInt32());

    public JsonElement Claims
    {
        get
        {
            var part = Access.Split('.')[1];
            return JsonSerializer.Deserialize<JsonElement>(Convert.FromBase64String(part.Replace('-', '+').Replace('_', '/').PadRight(part.Length + ((4 - (part.Length % 4)) % 4), '=')));
        }
    }

    public string Sub => Claims.GetProperty("sub").GetString()!;

    public string Sid => Claims.GetProperty("sid").GetString()!;
}

using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using SecurePlatform.TestSupport;
using SecurePlatform.Token.Infrastructure;
using StackExchange.Redis;

namespace SecurePlatform.Token.Tests;

/// <summary>token-service on a real Kestrel port (its JwtBearer reads its own discovery over HTTP), against the real servers.</summary>
public class TokenServiceFactory : ServiceFactory<Program, TokenDbContext>
{
    public const string AuthServiceSecret = "auth-service-test-secret-0123456789abcdef";
    public const string ServiceSecret = "worker-test-secret-0123456789abcdef";
    public const string ResourceSecret = "resource-test-secret-0123456789abcdef";

    public TokenServiceFactory() : this("tokens", []) { }

    internal TokenServiceFactory(string databaseSuffix, Dictionary<string, string?> settings)
        : this(ServiceProcess.FreePort(), databaseSuffix, settings)
    {
    }

    private TokenServiceFactory(int port, string databaseSuffix, Dictionary<string, string?> settings)
        : base("tokendb", databaseSuffix + "_" + Guid.NewGuid().ToString("N")[..6], settings)
    {
        Port = port;
        Default("Token:Issuer", BaseUrl);
        Default("Token:ClientSecretHashKey", "test-hash-key-0123456789abcdef");
        Default("Clients:auth-service:Secret", AuthServiceSecret);
        Default("Clients:worker:Secret", ServiceSecret);
        Default("Clients:resource-api:Secret", ResourceSecret);
        Default("Clients:resource-api:Introspection", "true");
        Default("Clients:other-app:FirstParty", "true");
        Default("Clients:third-party-app:DisplayName", "not first-party");
        UseKestrel(Port);
    }

    public int Port { get; }

    public string BaseUrl => $"http://127.0.0.1:{Port}/";

    public HttpClient Http
    {
        get
        {
            EnsureStarted();
            return _http ??= new HttpClient { BaseAddress = new Uri(BaseUrl) };
        }
    }

    private HttpClient? _http;

    public void EnsureStarted() => StartServer();

    public IDatabase Redis => Services.GetRequiredService<IConnectionMultiplexer>().GetDatabase();

    /// <summary>What auth-service does after verifying a password: the platform sign-in grant.</summary>
    public async Task<TokenResponse> SignInAsync(string subject, string roles = "user", string? targetClient = null, string amr = "pwd")
    {
        EnsureStarted();
        var form = new Dictionary<string, string>
        {
            ["grant_type"] = "urn:secureplatform:grant-type:sign-in",
            ["client_id"] = "auth-service",
            ["client_secret"] = AuthServiceSecret,
            ["subject"] = subject,
            ["amr"] = amr,
            ["roles"] = roles,
            ["client_ip"] = "198.51.100.7",
            ["user_agent"] = "TokenTests/1.0",
            ["scope"] = "openid offline_access",
        };
        if (targetClient is not null)
        {
            form["target_client_id"] = targetClient;
        }
        return await HttpAssert.OkJsonAsync<TokenResponse>(await Http.PostAsync("/connect/token", new FormUrlEncodedContent(form)));
    }

    public Task<HttpResponseMessage> RefreshAsync(string refreshToken, string clientId = "platform-app") =>
        Http.PostAsync("/connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token",
            ["client_id"] = clientId,
            ["refresh_token"] = refreshToken,
        }));

    public override async ValueTask DisposeAsync()
    {
        _http?.Dispose();
        await base.DisposeAsync();
    }
}

public sealed record TokenResponse(
    [property: System.Text.Json.Serialization.JsonPropertyName("access_token")] string AccessToken,
    [property: System.Text.Json.Serialization.JsonPropertyName("refresh_token")] string? RefreshToken,
    [property: System.Text.Json.Serialization.JsonPropertyName("token_type")] string TokenType,
    [property: System.Text.Json.Serialization.JsonPropertyName("expires_in")] int ExpiresIn)
{
    public JsonElement Payload => Jwt.Payload(AccessToken);

    public string Sid => Payload.GetProperty("sid").GetString()!;
}

public static class Jwt
{
    public static JsonElement Payload(string jwt) => Part(jwt, 1);

    public static JsonElement Header(string jwt) => Part(jwt, 0);

    private static JsonElement Part(string jwt, int index)
    {
        var part = jwt.Split('.')[index];
        return JsonSerializer.Deserialize<JsonElement>(Convert.FromBase64String(part.Replace('-', '+').Replace('_', '/').PadRight(part.Length + ((4 - (part.Length % 4)) % 4), '=')));
    }
}

public static class ResponseExtensions
{
    public static async Task<string> ErrorAsync(this HttpResponseMessage response) =>
        (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString()!;
}

using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using SecurePlatform.Contracts;
using SecurePlatform.ServiceDefaults.Security;
using SecurePlatform.TestSupport;

namespace SecurePlatform.Auth.Tests;

/// <summary>
/// token-service's side of the back channel, as the contract states it, on a real Kestrel listener on
/// loopback: <c>POST /connect/token</c> (platform sign-in grant, form-encoded), <c>DELETE /sessions/{sid}</c>,
/// <c>DELETE /sessions</c>, <c>DELETE /admin/users/{sub}/sessions</c>. Records what it received; answers can be overridden per test. Its access tokens
/// are real JWTs signed by <see cref="TestTokens"/>, so auth-service's own JwtBearer accepts them.
/// </summary>
public sealed class FakeTokenService : IAsyncDisposable
{
    public sealed record TokenRequest(IReadOnlyDictionary<string, string> Form, string? ContentType);

    public sealed record SessionRequest(string Path, string? Authorization);

    public sealed record Issued(string Sid, string AccessToken, string RefreshToken, string ResponseJson);

    private readonly WebApplication _app;

    private FakeTokenService(WebApplication app) => _app = app;

    public Uri BaseAddress => new(_app.Urls.First());

    public ConcurrentQueue<TokenRequest> TokenRequests { get; } = new();

    public ConcurrentQueue<SessionRequest> SessionRequests { get; } = new();

    public ConcurrentQueue<Issued> IssuedTokens { get; } = new();

    /// <summary>When set, the token endpoint answers this status and body instead of issuing tokens.</summary>
    public (int Status, string Body)? TokenOverride { get; set; }

    /// <summary>The refresh token's lifetime this fake gives the cookie in cookie delivery.</summary>
    public static readonly TimeSpan CookieLifetime = TimeSpan.FromDays(6);

    /// <summary>Status of the session endpoints (204 by default).</summary>
    public int SessionStatus { get; set; } = StatusCodes.Status204NoContent;

    public static async Task<FakeTokenService> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        var app = builder.Build();
        var fake = new FakeTokenService(app);
        app.MapPost("/connect/token", (Func<HttpContext, Task<IResult>>)fake.TokenAsync);
        app.MapDelete("/sessions/{sid}", (HttpContext http) => fake.Session(http));
        app.MapDelete("/sessions", (HttpContext http) => fake.Session(http));
        app.MapDelete("/admin/users/{sub}/sessions", (HttpContext http) => fake.Session(http));
        await app.StartAsync();
        return fake;
    }

    public void Reset()
    {
        TokenRequests.Clear();
        SessionRequests.Clear();
        IssuedTokens.Clear();
        TokenOverride = null;
        SessionStatus = StatusCodes.Status204NoContent;
    }

    private async Task<IResult> TokenAsync(HttpContext http)
    {
        var form = await http.Request.ReadFormAsync();
        TokenRequests.Enqueue(new TokenRequest(form.ToDictionary(f => f.Key, f => f.Value.ToString()), http.Request.ContentType));
        http.Response.Headers.CacheControl = "no-store";
        if (TokenOverride is { } custom)
        {
            return Results.Text(custom.Body, "application/json", statusCode: custom.Status);
        }
        var sid = Guid.CreateVersion7().ToString();
        var roles = form["roles"].ToString().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var amr = form["amr"].ToString().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        // As token-service does: the sign-in grant's access token carries auth_time, the moment of this sign-in.
        var accessToken = TestTokens.Issue(form["subject"].ToString(), sid, roles, amr: amr,
            claims: new Dictionary<string, object?> { ["auth_time"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds() });
        var refreshToken = Base64Url(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        // Deliberately not the serializer's formatting auth-service would produce: relaying must keep it byte for byte.
        var json = "{\"access_token\": \"" + accessToken + "\", \"token_type\": \"Bearer\", \"expires_in\": 900, " +
                   "\"refresh_token\": \"" + refreshToken + "\", \"scope\": \"openid offline_access\"}";
        if (form[Protocol.SignInGrant.RefreshTokenDelivery] == Protocol.SignInGrant.CookieDelivery)
        {
            // As token-service does: the refresh token only in its cookie, whose Max-Age is the token's lifetime.
            RefreshCookie.Issue(http.Response, refreshToken, CookieLifetime);
            json = "{\"access_token\": \"" + accessToken + "\", \"token_type\": \"Bearer\", \"expires_in\": 900, \"scope\": \"openid offline_access\"}";
        }
        IssuedTokens.Enqueue(new Issued(sid, accessToken, refreshToken, json));
        return Results.Text(json, "application/json; charset=utf-8");
    }

    private IResult Session(HttpContext http)
    {
        SessionRequests.Enqueue(new SessionRequest(http.Request.Path, http.Request.Headers.Authorization.ToString()));
        return Results.StatusCode(SessionStatus);
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static JsonElement Json(string body) => JsonSerializer.Deserialize<JsonElement>(body);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

using System.Net.Http.Headers;
using System.Security.Claims;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using SecurePlatform.Profile.Infrastructure;
using SecurePlatform.ServiceDefaults.Auth;

namespace SecurePlatform.Profile.Apis;

/// <summary>
/// <c>GET /profiles/me/export</c>: what the platform holds about the caller, as one JSON document. The other services'
/// parts are read from their own user-facing routes with the caller's bearer token (auth-service <c>/auth/account</c>,
/// token-service <c>/sessions</c> and <c>/grants</c>, audit-service <c>/audit/me</c>, every page), so the export sees
/// exactly what the caller may see and needs no privileged back channel. A source that cannot answer (in time) is
/// named in <c>sources</c> with why (<c>timed out</c>, <c>unavailable</c>, <c>failed (status)</c>), its part is null and
/// <c>complete</c> is false: an export never silently leaves a part out, nor fails for want of one.
/// </summary>
public static class ExportApi
{
    public const string AuthService = "auth-service";
    public const string TokenService = "token-service";
    public const string AuditService = "audit-service";

    /// <summary>Audit pages of <c>/audit/me</c> followed at most (the caller's own activity; its page size is audit-service's maximum).</summary>
    public const int MaxAuditPages = 50;

    public sealed record ExportDocument(
        DateTimeOffset ExportedAt, bool Complete, IReadOnlyDictionary<string, string> Sources,
        JsonElement? Account, ProfileApi.ProfileResponse Profile, JsonElement? Sessions, JsonElement? Grants, IReadOnlyList<JsonElement>? AuditEvents);

    /// <summary>The clients, by service discovery name; one quick retry, short timeouts: an export waits seconds, not minutes.</summary>
    public static void AddExportClients(this IHostApplicationBuilder builder)
    {
        // Its own budget (AuthServiceClient.Budget) bounds the call; the defaults' retries would only wait longer.
#pragma warning disable EXTEXP0001 // evaluation API; the documented way to override ConfigureHttpClientDefaults' handler
        builder.Services.AddHttpClient<AuthServiceClient>(c => c.BaseAddress = new Uri(AuthServiceClient.BaseAddress))
            .RemoveAllResilienceHandlers()
#pragma warning restore EXTEXP0001
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { UseCookies = false });
        foreach (var service in new[] { TokenService, AuditService })
        {
            // Replaces the defaults' standard handler (3 retries from 2 s) instead of stacking a second one on it.
#pragma warning disable EXTEXP0001 // evaluation API; the documented way to override ConfigureHttpClientDefaults' handler
            builder.Services.AddHttpClient(service, c => c.BaseAddress = new Uri($"https+http://{service}"))
                .RemoveAllResilienceHandlers()
#pragma warning restore EXTEXP0001
                .AddStandardResilienceHandler(o =>
                {
                    o.Retry.MaxRetryAttempts = 1;
                    o.Retry.Delay = TimeSpan.FromMilliseconds(200);
                    o.AttemptTimeout.Timeout = TimeSpan.FromSeconds(5);
                    o.CircuitBreaker.SamplingDuration = TimeSpan.FromSeconds(10);
                    o.TotalRequestTimeout.Timeout = TimeSpan.FromSeconds(12);
                });
        }
    }

    public static IEndpointRouteBuilder MapExportApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/profiles/me/export", ExportAsync).WithTags("Profile").RequireAuthorization().WithName("ExportMyData")
            .WithSummary("Everything the platform holds about the caller: account, profile, sessions, consents, own audit events; a part another service could not give (in time) is null and named in sources.");
        return app;
    }

    internal static async Task<Ok<ExportDocument>> ExportAsync(
        ClaimsPrincipal user, HttpContext http, ProfileDbContext db, IHttpClientFactory clients, AuthServiceClient auth, CancellationToken cancellationToken)
    {
        var sub = PlatformClaims.SubjectOf(user)!;
        var profile = await ProfileApi.FindOrCreateAsync(db, sub, cancellationToken);
        var bearer = AuthenticationHeaderValue.Parse(http.Request.Headers.Authorization.ToString());
        var sources = new Dictionary<string, string>();

        var token = clients.CreateClient(TokenService);
        var audit = clients.CreateClient(AuditService);
        var account = await auth.AccountAsync(bearer, cancellationToken);
        sources[AuthService] = account.Status;
        var sessions = await ReadAsync(token, "/sessions", bearer, TokenService, sources, cancellationToken);
        var grants = await ReadAsync(token, "/grants", bearer, TokenService, sources, cancellationToken);
        var events = await ReadAuditAsync(audit, bearer, sources, cancellationToken);

        http.Response.Headers.ContentDisposition = "attachment; filename=\"secureplatform-export.json\"";
        return TypedResults.Ok(new ExportDocument(
            DateTimeOffset.UtcNow, sources.Values.All(s => s == ExportSourceStatus.Ok), sources,
            account.Account, ProfileApi.ToResponse(profile), sessions, grants, events));
    }

    private static async Task<JsonElement?> ReadAsync(
        HttpClient client, string path, AuthenticationHeaderValue bearer, string source, Dictionary<string, string> sources, CancellationToken cancellationToken)
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.Authorization = bearer;
            using var response = await client.SendAsync(request, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                sources[source] = ExportSourceStatus.Failed(response.StatusCode);
                return null;
            }
            sources.TryAdd(source, ExportSourceStatus.Ok);
            return await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
        }
        catch (Exception ex) when (ExportSourceStatus.Of(ex, cancellationToken) is { } status)
        {
            sources[source] = status;
            return null;
        }
    }

    private static async Task<IReadOnlyList<JsonElement>?> ReadAuditAsync(
        HttpClient client, AuthenticationHeaderValue bearer, Dictionary<string, string> sources, CancellationToken cancellationToken)
    {
        var events = new List<JsonElement>();
        string? cursor = null;
        for (var page = 0; page < MaxAuditPages; page++)
        {
            var path = "/audit/me?limit=100" + (cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor));
            if (await ReadAsync(client, path, bearer, AuditService, sources, cancellationToken) is not { } body)
            {
                return null;
            }
            events.AddRange(body.GetProperty("items").EnumerateArray());
            cursor = body.TryGetProperty("nextCursor", out var next) && next.ValueKind == JsonValueKind.String ? next.GetString() : null;
            if (cursor is null)
            {
                return events;
            }
        }
        sources[AuditService] = $"truncated (first {MaxAuditPages} pages)";
        return events;
    }
}

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
/// parts are read from their own user-facing routes with the caller's bearer token (token-service <c>/sessions</c> and
/// <c>/grants</c>, audit-service <c>/audit/me</c>, every page), so the export sees exactly what the caller may see
/// and needs no privileged back channel. A source that cannot be reached is named in <c>sources</c> and
/// <c>complete</c> is false: an export never silently leaves a part out.
/// </summary>
public static class ExportApi
{
    public const string TokenService = "token-service";
    public const string AuditService = "audit-service";

    /// <summary>Audit pages of <c>/audit/me</c> followed at most (the caller's own activity; its page size is audit-service's maximum).</summary>
    public const int MaxAuditPages = 50;

    public sealed record ExportDocument(
        DateTimeOffset ExportedAt, bool Complete, IReadOnlyDictionary<string, string> Sources,
        AccountPart Account, ProfileApi.ProfileResponse Profile, JsonElement? Sessions, JsonElement? Grants, IReadOnlyList<JsonElement>? AuditEvents);

    /// <summary>What the access token itself says of the account (auth-service has no user-facing account route yet).</summary>
    public sealed record AccountPart(string Sub, IReadOnlyList<string> Roles, IReadOnlyList<string> AuthenticationMethods);

    /// <summary>The two clients, by service discovery name; one quick retry, short timeouts: an export waits seconds, not minutes.</summary>
    public static void AddExportClients(this IHostApplicationBuilder builder)
    {
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
            .WithSummary("Everything the platform holds about the caller: profile, sessions, consents, own audit events.");
        return app;
    }

    internal static async Task<Ok<ExportDocument>> ExportAsync(
        ClaimsPrincipal user, HttpContext http, ProfileDbContext db, IHttpClientFactory clients, CancellationToken cancellationToken)
    {
        var sub = PlatformClaims.SubjectOf(user)!;
        var profile = await ProfileApi.FindOrCreateAsync(db, sub, cancellationToken);
        var bearer = AuthenticationHeaderValue.Parse(http.Request.Headers.Authorization.ToString());
        var sources = new Dictionary<string, string>();

        var token = clients.CreateClient(TokenService);
        var audit = clients.CreateClient(AuditService);
        var sessions = await ReadAsync(token, "/sessions", bearer, TokenService, sources, cancellationToken);
        var grants = await ReadAsync(token, "/grants", bearer, TokenService, sources, cancellationToken);
        var events = await ReadAuditAsync(audit, bearer, sources, cancellationToken);

        http.Response.Headers.ContentDisposition = "attachment; filename=\"secureplatform-export.json\"";
        return TypedResults.Ok(new ExportDocument(
            DateTimeOffset.UtcNow, sources.Values.All(s => s == "ok"), sources,
            new AccountPart(sub, user.FindAll(PlatformClaims.Roles).Select(c => c.Value).ToList(), user.FindAll(PlatformClaims.Amr).Select(c => c.Value).ToList()),
            ProfileApi.ToResponse(profile), sessions, grants, events));
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
                sources[source] = $"failed ({(int)response.StatusCode})";
                return null;
            }
            sources.TryAdd(source, "ok");
            return await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or JsonException or Polly.Timeout.TimeoutRejectedException
                                   or Polly.CircuitBreaker.BrokenCircuitException)
        {
            sources[source] = "unavailable";
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

using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace SecurePlatform.ServiceDefaults.Health;

public static class HealthTags
{
    /// <summary>Liveness: the process answers. Only these run for <c>/alive</c>.</summary>
    public const string Live = "live";

    /// <summary>
    /// Readiness: can the service serve? A dependency without which requests fail (the service's database;
    /// Redis where the revocation check fails closed) reports Unhealthy (503); one whose outage the design
    /// absorbs (RabbitMQ behind the outbox; Redis with <c>Auth:Revocation:FailOpen</c>) reports Degraded (200).
    /// </summary>
    public const string Ready = "ready";
}

/// <summary>Writes check names and statuses only: never descriptions, exception text or data.</summary>
public static class HealthResponseWriter
{
    public static Task WriteAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        var body = new
        {
            status = report.Status.ToString(),
            checks = report.Entries.Select(e => new { name = e.Key, status = e.Value.Status.ToString() }),
        };
        return JsonSerializer.SerializeAsync(context.Response.Body, body, JsonSerializerOptions.Web, context.RequestAborted);
    }
}

using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using SecurePlatform.Contracts;

namespace SecurePlatform.ServiceDefaults.Messaging;

public static class EventStamping
{
    public const int MaxUserAgentLength = 512;

    /// <summary>
    /// Fills an event's envelope: source service, who acted, whom it concerns, the caller's IP and user agent
    /// (when there is a request) and the current trace id.
    /// </summary>
    public static T Stamp<T>(this T integrationEvent, string sourceService, HttpContext? http, string? actor, string? subject)
        where T : IntegrationEvent
        => (T)((IntegrationEvent)integrationEvent with
        {
            SourceService = sourceService,
            Actor = actor,
            Subject = subject,
            IpAddress = integrationEvent.IpAddress ?? http?.Connection.RemoteIpAddress?.ToString(),
            UserAgent = integrationEvent.UserAgent ?? Truncate(http?.Request.Headers.UserAgent.ToString()),
            CorrelationId = Activity.Current?.TraceId.ToString() ?? integrationEvent.CorrelationId,
        });

    public static string? Truncate(string? userAgent)
        => string.IsNullOrEmpty(userAgent) ? null : userAgent.Length <= MaxUserAgentLength ? userAgent : userAgent[..MaxUserAgentLength];
}

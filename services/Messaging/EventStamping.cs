using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using SecurePlatform.Contracts;

namespace SecurePlatform.Messaging;

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
            IpAddress = integrationEvent.IpAddress ?? ClientAddress(http),
            UserAgent = integrationEvent.UserAgent ?? UserAgent(http),
            CorrelationId = Activity.Current?.TraceId.ToString() ?? integrationEvent.CorrelationId,
        });

    /// <summary>The caller's address (after forwarded headers from trusted proxies), IPv4 without the IPv6 mapping.</summary>
    public static string? ClientAddress(HttpContext? http)
    {
        var address = http?.Connection.RemoteIpAddress;
        return address is null ? null : (address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address).ToString();
    }

    /// <summary>The caller's User-Agent, truncated (see <see cref="Truncate"/>).</summary>
    public static string? UserAgent(HttpContext? http) => Truncate(http?.Request.Headers.UserAgent.ToString());

    /// <summary>At most <see cref="MaxUserAgentLength"/> characters, never splitting a surrogate pair; null when empty.</summary>
    public static string? Truncate(string? userAgent)
    {
        if (string.IsNullOrEmpty(userAgent))
        {
            return null;
        }
        if (userAgent.Length <= MaxUserAgentLength)
        {
            return userAgent;
        }
        var cut = char.IsHighSurrogate(userAgent[MaxUserAgentLength - 1]) ? MaxUserAgentLength - 1 : MaxUserAgentLength;
        return userAgent[..cut];
    }
}

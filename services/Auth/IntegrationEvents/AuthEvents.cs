using SecurePlatform.Contracts;
using SecurePlatform.ServiceDefaults.Messaging;

namespace SecurePlatform.Auth.IntegrationEvents;

/// <summary>Fills the envelope of auth-service's events from the request that caused them.</summary>
public static class AuthEvents
{
    public const string SourceService = "auth-service";
    public const int MaxUserAgentLength = EventStamping.MaxUserAgentLength;

    /// <summary>A new event stamped by the platform's <see cref="EventStamping"/>, with the IPv4 form of the caller's address.</summary>
    public static T Create<T>(HttpContext http, string? actor, string? subject) where T : IntegrationEvent, new()
        => new T { IpAddress = ClientAddress(http), UserAgent = UserAgent(http) }.Stamp(SourceService, http, actor, subject);

    /// <summary>The caller's address (after forwarded headers from trusted proxies), IPv4 without the IPv6 mapping.</summary>
    public static string? ClientAddress(HttpContext http)
    {
        var address = http.Connection.RemoteIpAddress;
        return address is null ? null : (address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address).ToString();
    }

    /// <summary>The caller's User-Agent, truncated to <see cref="MaxUserAgentLength"/> characters (never splitting a surrogate pair).</summary>
    public static string? UserAgent(HttpContext http)
    {
        var value = http.Request.Headers.UserAgent.ToString();
        if (value.Length == 0)
        {
            return null;
        }
        if (value.Length <= MaxUserAgentLength)
        {
            return value;
        }
        var cut = char.IsHighSurrogate(value[MaxUserAgentLength - 1]) ? MaxUserAgentLength - 1 : MaxUserAgentLength;
        return value[..cut];
    }
}

using SecurePlatform.Contracts;
using SecurePlatform.Messaging;

namespace SecurePlatform.Auth.IntegrationEvents;

/// <summary>auth-service's events, stamped by the platform's <see cref="EventStamping"/>.</summary>
public static class AuthEvents
{
    public const string SourceService = Protocol.Services.Auth;

    public static T Create<T>(HttpContext http, string? actor, string? subject) where T : IntegrationEvent, new()
        => new T().Stamp(SourceService, http, actor, subject);
}

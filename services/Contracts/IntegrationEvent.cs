namespace SecurePlatform.Contracts;

/// <summary>
/// Base of every integration event. Immutable; carries who did what, from where, and the trace it belongs to.
/// Never put passwords, tokens, secrets or TOTP seeds in an event.
/// </summary>
public abstract record IntegrationEvent
{
    /// <summary>Unique id; consumers de-duplicate on it. UUIDv7, so ids sort by creation time.</summary>
    public Guid EventId { get; init; } = Guid.CreateVersion7();

    public DateTimeOffset OccurredAt { get; init; } = DateTimeOffset.UtcNow;

    /// <summary>The service that produced the event (auth-service, token-service, ...).</summary>
    public string SourceService { get; init; } = "";

    /// <summary>Who acted: a user's <c>sub</c> or a client id.</summary>
    public string? Actor { get; init; }

    /// <summary>Whose account the event concerns (often the actor).</summary>
    public string? Subject { get; init; }

    public string? IpAddress { get; init; }

    public string? UserAgent { get; init; }

    /// <summary>W3C trace id of the request that caused the event.</summary>
    public string? CorrelationId { get; init; }
}

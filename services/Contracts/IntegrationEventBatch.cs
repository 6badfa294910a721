using System.Text.Json;

namespace SecurePlatform.Contracts;

/// <summary>
/// What producers publish: the outbox rows of one dispatch round, in outbox order, as one broker message.
/// One message per event cost more broker and consumer CPU than the events themselves; a batch carries
/// from one event (low load, so no added latency) up to the outbox's batch size. Consumers pick out the
/// types they handle and de-duplicate each event by its <see cref="IntegrationEventEnvelope.EventId"/>.
/// </summary>
public sealed record IntegrationEventBatch
{
    public IReadOnlyList<IntegrationEventEnvelope> Events { get; init; } = [];
}

/// <summary>One event inside a batch: an outbox row as it was stored.</summary>
public sealed record IntegrationEventEnvelope
{
    public Guid EventId { get; init; }

    /// <summary>Full name of the contract type; consumers resolve it only among <see cref="IntegrationEvent"/> types.</summary>
    public string Type { get; init; } = "";

    /// <summary>W3C traceparent of the request that wrote the event: each event keeps its own trace through a batch.</summary>
    public string? TraceParent { get; init; }

    /// <summary>The event itself, kept as raw JSON so a consumer deserializes only the types it handles.</summary>
    public JsonElement Payload { get; init; }
}

using System.Diagnostics;
using SecurePlatform.Contracts;

namespace SecurePlatform.Messaging;

/// <summary>An event taken out of a batch, with the trace of the request that caused it.</summary>
public sealed record IncomingIntegrationEvent(IntegrationEvent Event, string? TraceParent)
{
    /// <summary>The producing request's span, so work done for this event joins that request's trace.</summary>
    public ActivityContext Parent => ActivityContext.TryParse(TraceParent, null, out var context) ? context : default;

    public ActivityTraceId? TraceId => Parent == default ? null : Parent.TraceId;
}

/// <summary>An event of a batch that was not handled: <paramref name="Permanent"/> when retrying cannot help (unknown type, unreadable, invalid).</summary>
public sealed record IntegrationEventFailure(Guid EventId, string Type, string Reason, bool Permanent);

/// <summary>
/// Where a service's share of each batch goes: the events of the types it handles, in batch order. The
/// service's sink handles them (all at once, or one by one) and names the ones it could not handle; it throws
/// only when nothing of the batch could be handled (a database outage, say), so the whole message is retried.
/// </summary>
public interface IIntegrationEventSink
{
    Task<IReadOnlyList<IntegrationEventFailure>> ReceiveAsync(IReadOnlyList<IncomingIntegrationEvent> events, CancellationToken cancellationToken);
}

/// <summary>Handles one event type, one event at a time (see <see cref="IdempotentConsumer{TEvent,TContext}"/>).</summary>
public interface IIntegrationEventConsumer<in TEvent> where TEvent : IntegrationEvent
{
    Task ConsumeAsync(TEvent message, CancellationToken cancellationToken);
}

/// <summary>The event types a service handles; every other type in a batch is skipped without being deserialized.</summary>
public sealed class IntegrationEventSubscription
{
    private readonly HashSet<string> _typeNames = new(StringComparer.Ordinal);

    /// <summary>
    /// Set by a service that must handle every event (the audit log): an event of a type it does not know
    /// (a newer producer's) is then a failure that ends in the error queue, not something to skip.
    /// </summary>
    public bool TakesEveryEvent { get; internal set; }

    public bool Handles(string typeName) => TakesEveryEvent || _typeNames.Contains(typeName);

    internal bool Add(Type eventType) => _typeNames.Add(eventType.FullName!);
}

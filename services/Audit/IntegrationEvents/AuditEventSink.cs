using SecurePlatform.Audit.Infrastructure;
using SecurePlatform.Audit.Model;
using SecurePlatform.Messaging;

namespace SecurePlatform.Audit.IntegrationEvents;

/// <summary>
/// Stores the events of a message (a producer's outbox batch) with one <see cref="AuditWriter"/> append, so the
/// message is acknowledged only after all its rows committed. Idempotent: an event id already stored is not
/// stored again. Each row records the trace of the request that caused its event. An event that cannot be
/// stored is named as failed (the others are stored), so its message is retried, then moved to the error queue.
/// </summary>
public sealed class AuditEventSink(AuditWriter writer) : IIntegrationEventSink
{
    public async Task<IReadOnlyList<IntegrationEventFailure>> ReceiveAsync(IReadOnlyList<IncomingIntegrationEvent> events, CancellationToken cancellationToken)
    {
        var rows = new List<AuditEvent>(events.Count);
        var failures = new List<IntegrationEventFailure>();
        foreach (var incoming in events)
        {
            try
            {
                rows.Add(AuditEntryFactory.Create(incoming.Event, incoming.TraceId));
            }
            catch (InvalidAuditEventException ex)
            {
                failures.Add(new IntegrationEventFailure(incoming.Event.EventId, incoming.Event.GetType().FullName!, ex.Message, Permanent: true));
            }
        }
        var result = await writer.AppendAsync(rows, cancellationToken);
        failures.AddRange(result.Failed.Select(f => new IntegrationEventFailure(f.Row.EventId, f.Row.Type, f.Error.GetType().Name + ": " + f.Error.Message, Permanent: false)));
        return failures;
    }
}

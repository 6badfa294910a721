using System.Text.Json;
using MassTransit;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SecurePlatform.Contracts;

namespace SecurePlatform.Messaging;

/// <summary>
/// Receives <see cref="IntegrationEventBatch"/> messages for a service: deserializes only the events of the
/// types the service handles and hands them to its <see cref="IIntegrationEventSink"/>. The message completes
/// (and is acknowledged) only after the sink has handled them; if any event failed, the message fails after
/// the others were handled, so MassTransit retries it (consumers de-duplicate what was done) and finally moves
/// it to the error queue, at once when retrying cannot help.
/// </summary>
public sealed class IntegrationEventBatchConsumer(
    IntegrationEventSubscription subscription,
    IntegrationEventTypes types,
    IIntegrationEventSink sink,
    ILogger<IntegrationEventBatchConsumer> logger)
    : IConsumer<IntegrationEventBatch>
{
    public Task Consume(ConsumeContext<IntegrationEventBatch> context)
    {
        var batch = context.Message.Events;
        var events = new List<IncomingIntegrationEvent>(batch.Count);
        var failures = new List<IntegrationEventFailure>();
        foreach (var envelope in batch)
        {
            if (!subscription.Handles(envelope.Type))
            {
                continue;
            }
            if (IntegrationEventEnvelopes.TryRead(envelope, types, out var incoming, out var reason))
            {
                events.Add(incoming);
            }
            else
            {
                failures.Add(new IntegrationEventFailure(envelope.EventId, envelope.Type, reason, Permanent: true));
            }
        }
        return IntegrationEventDelivery.DeliverAsync(sink, events, failures, logger, context.CancellationToken);
    }
}

public static class IntegrationEventEnvelopes
{
    /// <summary>Resolves the envelope's type (only among the host's <see cref="IntegrationEventTypes"/>) and deserializes its payload.</summary>
    public static bool TryRead(IntegrationEventEnvelope envelope, IntegrationEventTypes types, out IncomingIntegrationEvent incoming, out string reason)
    {
        incoming = null!;
        var type = types.Resolve(envelope.Type);
        if (type is null)
        {
            reason = "unknown event type";
            return false;
        }
        IntegrationEvent? message;
        try
        {
            message = envelope.Payload.Deserialize(type, JsonSerializerOptions.Web) as IntegrationEvent;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or NotSupportedException)
        {
            reason = "unreadable payload: " + ex.Message;
            return false;
        }
        if (message is null || message.EventId != envelope.EventId)
        {
            reason = message is null ? "empty payload" : "the payload's event id differs from the envelope's";
            return false;
        }
        incoming = new IncomingIntegrationEvent(message, envelope.TraceParent);
        reason = "";
        return true;
    }
}

internal static partial class IntegrationEventDelivery
{
    public static async Task DeliverAsync(
        IIntegrationEventSink sink,
        IReadOnlyList<IncomingIntegrationEvent> events,
        List<IntegrationEventFailure> failures,
        ILogger logger,
        CancellationToken cancellationToken)
    {
        if (events.Count > 0)
        {
            failures.AddRange(await sink.ReceiveAsync(events, cancellationToken));
        }
        if (failures.Count == 0)
        {
            return;
        }
        foreach (var failure in failures)
        {
            LogEventFailed(logger, failure.EventId, failure.Type, failure.Reason, failure.Permanent);
        }
        throw failures.All(f => f.Permanent)
            ? new UnprocessableIntegrationEventsException(failures)
            : new IntegrationEventsFailedException(failures);
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Event {EventId} ({Type}) was not handled: {Reason} (permanent: {Permanent})")]
    private static partial void LogEventFailed(ILogger logger, Guid eventId, string type, string reason, bool permanent);
}

/// <summary>Some events of a message were not handled (the others were); the message is retried, then moved to the error queue.</summary>
public class IntegrationEventsFailedException(IReadOnlyList<IntegrationEventFailure> failures)
    : Exception($"{failures.Count} event(s) not handled: " + string.Join("; ", failures.Take(10).Select(f => $"{f.EventId} ({f.Type}): {f.Reason}")))
{
    public IReadOnlyList<IntegrationEventFailure> Failures { get; } = failures;
}

/// <summary>Every failure of the message is permanent: it goes to the error queue without retries.</summary>
public sealed class UnprocessableIntegrationEventsException(IReadOnlyList<IntegrationEventFailure> failures) : IntegrationEventsFailedException(failures);

/// <summary>The queue a service's integration event batches arrive on; section <c>Messaging:Events</c>.</summary>
public sealed class IntegrationEventEndpointOptions
{
    /// <summary>Default: <c>{service}-integration-event-batch</c>.</summary>
    public string? QueueName { get; set; }

    /// <summary>Messages the broker hands out before acknowledgement, and handled concurrently. Default: MassTransit's.</summary>
    public int? PrefetchCount { get; set; }

    public static IEnumerable<string> Validate(IntegrationEventEndpointOptions o) => OptionsRule.Failures(
        OptionsRule.Required(o.QueueName, "Messaging:Events:QueueName"),
        o.PrefetchCount is null or >= 1 ? null : "Messaging:Events:PrefetchCount must be at least 1.");
}

/// <summary>Puts a service's batch consumer on its configured queue.</summary>
public sealed class IntegrationEventEndpointDefinition<TConsumer> : ConsumerDefinition<TConsumer>
    where TConsumer : class, IConsumer
{
    public IntegrationEventEndpointDefinition(IOptions<IntegrationEventEndpointOptions> options)
    {
        var settings = options.Value;
        var queue = settings.QueueName ?? throw new InvalidOperationException("IntegrationEventEndpointOptions.QueueName is set by AddMessaging.");
        EndpointName = queue;
        if (settings.PrefetchCount is { } prefetch)
        {
            ConcurrentMessageLimit = prefetch;
        }
        Endpoint(e =>
        {
            e.Name = queue;
            if (settings.PrefetchCount is { } count)
            {
                e.PrefetchCount = count;
                e.ConcurrentMessageLimit = count;
            }
        });
    }
}

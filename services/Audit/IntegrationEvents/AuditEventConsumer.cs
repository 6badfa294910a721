using System.Diagnostics;
using MassTransit;
using Microsoft.Extensions.Options;
using SecurePlatform.Audit.Infrastructure;
using SecurePlatform.Audit.Model;
using SecurePlatform.Contracts;

namespace SecurePlatform.Audit.IntegrationEvents;

/// <summary>
/// Stores one event of type <typeparamref name="TEvent"/>. Registered once per concrete event of the catalogue;
/// completes (and so lets MassTransit acknowledge) only after the batch holding the row has committed.
/// Idempotent: an event id already stored is acknowledged without a second row.
/// </summary>
public sealed class AuditEventConsumer<TEvent>(AuditWriter writer) : IConsumer<TEvent>
    where TEvent : IntegrationEvent
{
    public Task Consume(ConsumeContext<TEvent> context)
    {
        var row = AuditEntryFactory.Create(context.Message, Activity.Current?.TraceId);
        return writer.AppendAsync(row, context.CancellationToken);
    }
}

/// <summary>Puts every audit consumer on one queue with enough prefetch and concurrency to fill the writer's batches.</summary>
public sealed class AuditEventConsumerDefinition<TEvent> : ConsumerDefinition<AuditEventConsumer<TEvent>>
    where TEvent : IntegrationEvent
{
    public AuditEventConsumerDefinition(IOptions<AuditIngestOptions> options)
    {
        var settings = options.Value;
        EndpointName = settings.QueueName;
        ConcurrentMessageLimit = settings.PrefetchCount;
        Endpoint(e =>
        {
            e.Name = settings.QueueName;
            e.PrefetchCount = settings.PrefetchCount;
            e.ConcurrentMessageLimit = settings.PrefetchCount;
        });
    }
}

public static class AuditConsumerRegistration
{
    /// <summary>One consumer per concrete event type: MassTransit publishes each type to its own exchange.</summary>
    public static void AddAuditConsumers(this IBusRegistrationConfigurator bus)
    {
        foreach (var eventType in AuditEventTypes.All)
        {
            bus.AddConsumer(
                typeof(AuditEventConsumer<>).MakeGenericType(eventType),
                typeof(AuditEventConsumerDefinition<>).MakeGenericType(eventType));
        }
    }
}

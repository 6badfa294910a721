using System.Diagnostics;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using SecurePlatform.Contracts;

namespace SecurePlatform.Messaging;

/// <summary>An integration event waiting to be published; written in the same transaction as the state change.</summary>
public sealed class OutboxMessage
{
    /// <summary>Insertion order; the dispatcher publishes in this order.</summary>
    public long Sequence { get; private set; }

    public Guid EventId { get; private set; }

    /// <summary>Full name of the contract type (resolved only among <see cref="IntegrationEvent"/> types).</summary>
    public string Type { get; private set; } = "";

    public string Payload { get; private set; } = "";

    public DateTimeOffset OccurredAt { get; private set; }

    /// <summary>W3C traceparent of the request that wrote the event, so the trace continues through the broker.</summary>
    public string? TraceParent { get; private set; }

    public DateTimeOffset? SentAt { get; internal set; }

    public int Attempts { get; internal set; }

    /// <summary>Set when the row can never be published (unknown type); such rows are skipped, not retried.</summary>
    public string? Error { get; internal set; }

    public static OutboxMessage From(IntegrationEvent integrationEvent) => new()
    {
        EventId = integrationEvent.EventId,
        Type = integrationEvent.GetType().FullName!,
        Payload = JsonSerializer.Serialize(integrationEvent, integrationEvent.GetType(), JsonSerializerOptions.Web),
        OccurredAt = integrationEvent.OccurredAt,
        TraceParent = Activity.Current?.Id,
    };
}

/// <summary>An event id a consumer has already handled; makes redelivery harmless.</summary>
public sealed class ProcessedEvent
{
    public Guid EventId { get; set; }

    public string Consumer { get; set; } = "";

    public DateTimeOffset ProcessedAt { get; set; }
}

public static class OutboxModelExtensions
{
    /// <summary>Maps <c>outbox_messages</c> and <c>processed_events</c> into a service's own DbContext.</summary>
    public static ModelBuilder AddIntegrationEventTables(this ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<OutboxMessage>(e =>
        {
            e.ToTable("outbox_messages");
            e.HasKey(m => m.Sequence);
            e.Property(m => m.Sequence).UseIdentityAlwaysColumn();
            e.HasIndex(m => m.EventId).IsUnique();
            e.Property(m => m.Type).HasMaxLength(256);
            e.Property(m => m.Payload).HasColumnType("jsonb");
            e.Property(m => m.TraceParent).HasMaxLength(128);
            e.Property(m => m.Error).HasMaxLength(512);
            e.HasIndex(m => m.Sequence).HasDatabaseName("ix_outbox_messages_pending").HasFilter("sent_at IS NULL AND error IS NULL");
        });
        modelBuilder.Entity<ProcessedEvent>(e =>
        {
            e.ToTable("processed_events");
            e.HasKey(p => new { p.EventId, p.Consumer });
            e.Property(p => p.Consumer).HasMaxLength(200);
        });
        return modelBuilder;
    }

    /// <summary>
    /// Queues <paramref name="integrationEvent"/> in the outbox. It is stored by the caller's next
    /// <c>SaveChanges</c>, in the same transaction as the state change, and published after commit.
    /// </summary>
    public static void AddIntegrationEvent(this DbContext db, IntegrationEvent integrationEvent)
        => db.Set<OutboxMessage>().Add(OutboxMessage.From(integrationEvent));
}

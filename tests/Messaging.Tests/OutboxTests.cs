using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using SecurePlatform.TestSupport;

namespace SecurePlatform.Messaging.Tests;

/// <summary>The transactional outbox and the idempotent consumer against the real PostgreSQL and RabbitMQ.</summary>
public class OutboxTests
{
    private static readonly IReadOnlyDictionary<string, string> Infra = new Dictionary<string, string>
    {
        ["postgres"] = TestEnvironment.ConnectionString("postgres"),
        ["rabbitmq"] = TestEnvironment.ConnectionString("rabbitmq"),
    };

    [Fact]
    public async Task An_event_saved_with_a_state_change_is_published_once_and_marked_sent()
    {
        await using var host = await OutboxHost.StartAsync(Infra, "commit");
        await host.WaitForBusAsync(); // this host's queue must be bound before anything is published to it
        var evt = new WidgetCreated { Name = "gear", SourceService = "test" };

        await host.WithDbAsync(async db =>
        {
            db.Widgets.Add(new Widget { Name = "gear" });
            db.AddIntegrationEvent(evt);
            return await db.SaveChangesAsync();
        });

        await Eventually.HoldsAsync(() => host.WithDbAsync(db => db.Received.AnyAsync(r => r.EventId == evt.EventId)), TimeSpan.FromSeconds(30), "event consumed");
        // The consumer may see the message before the dispatcher has committed sent_at after the broker's confirm.
        await Eventually.HoldsAsync(() => host.WithDbAsync(db => db.Set<OutboxMessage>().AnyAsync(m => m.EventId == evt.EventId && m.SentAt != null)),
            TimeSpan.FromSeconds(10), "row marked sent");
        var (received, sentAt) = await host.WithDbAsync(async db => (
            await db.Received.Where(r => r.EventId == evt.EventId).ToListAsync(),
            await db.Set<OutboxMessage>().Where(m => m.EventId == evt.EventId).Select(m => m.SentAt).SingleAsync()));
        Assert.Equal("gear", Assert.Single(received).Name);
        Assert.NotNull(sentAt);
    }

    [Fact]
    public async Task A_rolled_back_transaction_publishes_nothing()
    {
        await using var host = await OutboxHost.StartAsync(Infra, "rollback");
        await host.WaitForBusAsync(); // this host's queue must be bound before anything is published to it
        var rolledBack = new WidgetCreated { Name = "never", SourceService = "test" };
        var committed = new WidgetCreated { Name = "later", SourceService = "test" };

        await host.WithDbAsync(async db =>
        {
            await using var tx = await db.Database.BeginTransactionAsync();
            db.Widgets.Add(new Widget { Name = "never" });
            db.AddIntegrationEvent(rolledBack);
            await db.SaveChangesAsync();
            await tx.RollbackAsync();
            return 0;
        });
        await host.WithDbAsync(async db =>
        {
            db.AddIntegrationEvent(committed);
            return await db.SaveChangesAsync();
        });

        // The later event arriving proves the dispatcher ran past the point where the first would have been.
        await Eventually.HoldsAsync(() => host.WithDbAsync(db => db.Received.AnyAsync(r => r.EventId == committed.EventId)), TimeSpan.FromSeconds(30), "committed event consumed");
        Assert.False(await host.WithDbAsync(db => db.Received.AnyAsync(r => r.EventId == rolledBack.EventId)));
        Assert.False(await host.WithDbAsync(db => db.Widgets.AnyAsync(w => w.Name == "never")));
    }

    [Fact]
    public async Task The_same_event_delivered_twice_is_handled_once()
    {
        await using var host = await OutboxHost.StartAsync(Infra, "duplicate");
        await host.WaitForBusAsync();
        var bus = host.Host.Services.GetRequiredService<IBus>();
        var evt = new WidgetCreated { Name = "twice", SourceService = "test" };
        var marker = new WidgetCreated { Name = "marker", SourceService = "test" };

        // As the outbox publishes: a batch per message (here a batch of one).
        await bus.Publish(OutboxBatch.ToMessage([OutboxMessage.From(evt)]));
        await bus.Publish(OutboxBatch.ToMessage([OutboxMessage.From(evt)]));
        await bus.Publish(OutboxBatch.ToMessage([OutboxMessage.From(marker)]));

        await Eventually.HoldsAsync(() => host.WithDbAsync(db => db.Received.AnyAsync(r => r.EventId == marker.EventId)), TimeSpan.FromSeconds(30), "marker consumed");
        await Task.Delay(500); // a second copy, if it were to be stored, would have landed by now
        Assert.Equal(1, await host.WithDbAsync(db => db.Received.CountAsync(r => r.EventId == evt.EventId)));
        Assert.Equal(1, await host.WithDbAsync(db => db.Set<ProcessedEvent>().CountAsync(p => p.EventId == evt.EventId)));
    }
}

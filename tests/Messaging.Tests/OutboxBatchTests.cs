using System.Text.Json;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using SecurePlatform.Contracts;
using SecurePlatform.TestSupport;

namespace SecurePlatform.Messaging.Tests;

/// <summary>The outbox publishes its pending rows as batch messages; consumers take what they handle out of them.</summary>
public class OutboxBatchTests
{
    /// <summary>
    /// The batches that carry this test's events: every host in the run's vhost receives every batch (one
    /// exchange, fan-out), including those of tests running at the same time.
    /// </summary>
    private static List<IntegrationEventBatch> OwnBatches(OutboxHost host, IReadOnlySet<Guid> ids) =>
        [.. host.Log.Batches.Where(b => b.Events.Any(e => ids.Contains(e.EventId)))];

    private static readonly IReadOnlyDictionary<string, string> Infra = new Dictionary<string, string>
    {
        ["postgres"] = TestEnvironment.ConnectionString("postgres"),
        ["rabbitmq"] = TestEnvironment.ConnectionString("rabbitmq"),
    };

    [Fact]
    public async Task Rows_pending_together_leave_in_batches_of_at_most_BatchSize_in_outbox_order()
    {
        await using var host = await OutboxHost.StartAsync(Infra, "batches", new Dictionary<string, string?> { ["Outbox:BatchSize"] = "10" });
        await host.WaitForBusAsync();
        var events = Enumerable.Range(1, 25).Select(i => new WidgetCreated { Name = $"w{i}", SourceService = "test" }).ToList();

        await host.WithDbAsync(async db =>
        {
            foreach (var evt in events)
            {
                db.AddIntegrationEvent(evt);
            }
            return await db.SaveChangesAsync();
        });

        var ids = events.Select(e => e.EventId).ToHashSet();
        await Eventually.HoldsAsync(() => host.WithDbAsync(async db => await db.Received.CountAsync(r => ids.Contains(r.EventId)) == events.Count), TimeSpan.FromSeconds(30), "all events consumed");
        await Eventually.HoldsAsync(() => Task.FromResult(OwnBatches(host, ids).Sum(b => b.Events.Count) == events.Count), TimeSpan.FromSeconds(10), "all batches seen");
        var batches = OwnBatches(host, ids);
        Assert.Equal([10, 10, 5], batches.Select(b => b.Events.Count));
        Assert.Equal(events.Select(e => e.EventId), batches.SelectMany(b => b.Events).Select(e => e.EventId));
        var first = batches[0].Events[0];
        Assert.Equal(typeof(WidgetCreated).FullName, first.Type);
        Assert.Equal("w1", first.Payload.GetProperty("name").GetString());
        Assert.Equal(0, await host.WithDbAsync(db => db.Set<OutboxMessage>().CountAsync(m => m.SentAt == null)));
    }

    [Fact]
    public async Task Sent_rows_are_deleted_after_their_retention_and_unsent_rows_are_kept()
    {
        await using var host = await OutboxHost.StartAsync(Infra, "retention", new Dictionary<string, string?>
        {
            ["Outbox:SentRetention"] = "00:00:01", ["Outbox:CleanupInterval"] = "00:00:01",
        });
        await host.WaitForBusAsync();
        var unknownId = Guid.CreateVersion7();
        await host.WithDbAsync(async db =>
        {
            db.AddIntegrationEvent(new WidgetCreated { Name = "kept-then-deleted", SourceService = "test" });
            await db.SaveChangesAsync();
            return await db.Database.ExecuteSqlAsync($"INSERT INTO outbox_messages (event_id, type, payload, occurred_at, attempts) VALUES ({unknownId}, 'SecurePlatform.Contracts.Gone', '{{}}'::jsonb, now(), 0)");
        });

        await Eventually.HoldsAsync(() => host.WithDbAsync(async db => await db.Received.CountAsync(r => r.Name == "kept-then-deleted") == 1), TimeSpan.FromSeconds(30), "the event is consumed");
        // The consumer may see the event before the dispatcher has marked its row sent: wait for the row itself to go.
        await Eventually.HoldsAsync(() => host.WithDbAsync(async db => !await db.Set<OutboxMessage>().AnyAsync(m => m.EventId != unknownId)),
            TimeSpan.FromSeconds(20), "the sent row is deleted after its retention");
        Assert.False(await host.WithDbAsync(db => db.Set<OutboxMessage>().AnyAsync(m => m.SentAt != null)));
        var left = await host.WithDbAsync(db => db.Set<OutboxMessage>().ToListAsync());
        Assert.Equal(unknownId, Assert.Single(left).EventId); // never sent (unknown type): kept for an operator
    }

    [Fact]
    public async Task A_row_of_an_unknown_type_is_set_aside_and_the_rows_around_it_are_published()
    {
        await using var host = await OutboxHost.StartAsync(Infra, "unknowntype");
        await host.WaitForBusAsync();
        var before = new WidgetCreated { Name = "before", SourceService = "test" };
        var after = new WidgetCreated { Name = "after", SourceService = "test" };
        var unknownId = Guid.CreateVersion7();

        await host.WithDbAsync(async db =>
        {
            await using var tx = await db.Database.BeginTransactionAsync();
            db.AddIntegrationEvent(before);
            await db.SaveChangesAsync();
            await db.Database.ExecuteSqlAsync($"INSERT INTO outbox_messages (event_id, type, payload, occurred_at, attempts) VALUES ({unknownId}, 'SecurePlatform.Contracts.Gone', '{{}}'::jsonb, now(), 0)");
            db.AddIntegrationEvent(after);
            await db.SaveChangesAsync();
            await tx.CommitAsync();
            return 0;
        });

        await Eventually.HoldsAsync(() => host.WithDbAsync(async db => await db.Received.CountAsync(r => r.EventId == before.EventId || r.EventId == after.EventId) == 2),
            TimeSpan.FromSeconds(30), "both known events consumed");
        var unknown = await host.WithDbAsync(db => db.Set<OutboxMessage>().SingleAsync(m => m.EventId == unknownId));
        Assert.Equal("unknown event type", unknown.Error);
        Assert.Null(unknown.SentAt);
        Assert.DoesNotContain(host.Log.Batches.SelectMany(b => b.Events), e => e.EventId == unknownId);
    }

    [Fact]
    public async Task A_consumer_takes_its_types_out_of_a_batch_and_skips_the_rest_and_a_redelivery_changes_nothing()
    {
        await using var host = await OutboxHost.StartAsync(Infra, "mixed");
        await host.WaitForBusAsync();
        var bus = host.Host.Services.GetRequiredService<IBus>();
        var mine = Enumerable.Range(1, 3).Select(i => new WidgetCreated { Name = $"m{i}", SourceService = "test" }).ToList();
        var batch = OutboxBatch.ToMessage([
            OutboxMessage.From(mine[0]),
            OutboxMessage.From(new LoginSucceeded { SourceService = "test", SessionId = "s" }),
            OutboxMessage.From(mine[1]),
            OutboxMessage.From(mine[2]),
        ]);
        // A type this build does not know (a newer producer's): not this consumer's business either.
        batch = batch with { Events = [.. batch.Events, batch.Events[1] with { EventId = Guid.CreateVersion7(), Type = "SecurePlatform.Contracts.FromTheFuture", Payload = JsonSerializer.SerializeToElement(new { x = 1 }) }] };

        await bus.Publish(batch);
        await bus.Publish(batch);

        var ids = mine.Select(m => m.EventId).ToHashSet();
        await Eventually.HoldsAsync(() => host.WithDbAsync(async db => await db.Received.CountAsync(r => ids.Contains(r.EventId)) == 3), TimeSpan.FromSeconds(30), "the three widgets consumed");
        await Eventually.HoldsAsync(() => Task.FromResult(OwnBatches(host, ids).Count == 2), TimeSpan.FromSeconds(10), "both copies delivered");
        await Task.Delay(500); // the second copy, were it to change anything, would have by now
        Assert.Equal(mine.Select(m => m.Name).Order(), (await host.WithDbAsync(db => db.Received.Where(r => ids.Contains(r.EventId)).Select(r => r.Name).ToListAsync())).Order());
        Assert.Equal(3, await host.WithDbAsync(db => db.Set<ProcessedEvent>().CountAsync(p => ids.Contains(p.EventId))));
        Assert.Equal(0u, await RabbitQueue.MessageCountAsync(host.QueueName + "_error"));
    }
}

using System.Text.Json;
using MassTransit;
using Npgsql;
using SecurePlatform.Contracts;
using SecurePlatform.Messaging;
using SecurePlatform.TestSupport;

namespace SecurePlatform.Audit.Tests;

/// <summary>How the tests publish: as producers do, an outbox batch per message (a batch of one for a single event).</summary>
internal static class EventPublishing
{
    public static Task PublishEventsAsync(this IPublishEndpoint bus, params IEnumerable<IntegrationEvent> events) =>
        bus.Publish(BatchIngestionTests.Batch(events));
}

/// <summary>Batches as producers' outboxes publish them, through the real RabbitMQ into the real PostgreSQL.</summary>
public class BatchIngestionTests
{
    /// <summary>A batch message exactly as the outbox dispatcher builds it from its rows.</summary>
    internal static IntegrationEventBatch Batch(IEnumerable<IntegrationEvent> events) =>
        OutboxBatch.ToMessage(events.Select(OutboxMessage.From).ToList());

    private static List<IntegrationEvent> Events(string subject, int count) => Enumerable.Range(0, count)
        .Select(i => (i % 3) switch
        {
            0 => (IntegrationEvent)new LoginSucceeded { Subject = subject, Actor = subject, SourceService = "test", SessionId = $"s{i}", Amr = ["pwd"] },
            1 => new LoginFailed { Subject = subject, SourceService = "test", Reason = LoginFailureReasons.InvalidCredentials, IpAddress = "198.51.100.7" },
            _ => new TokenRefreshed { Subject = subject, Actor = subject, SourceService = "test", SessionId = $"s{i}" },
        })
        .ToList();

    [Fact]
    public async Task A_batch_of_N_events_becomes_N_consecutive_rows_in_batch_order_in_a_verifying_chain()
    {
        await using var host = await new AuditHost("batch").StartAsync();
        var subject = "u-" + Guid.NewGuid().ToString("N");
        var events = Events(subject, 250);

        await host.Bus.Publish(Batch(events));

        await host.WaitForCountAsync(subject, events.Count);
        var stored = await host.OwnerAsync(async c =>
        {
            await using var cmd = new NpgsqlCommand("SELECT event_id, sequence, type FROM audit_events WHERE subject = $1 ORDER BY sequence", c) { Parameters = { new() { Value = subject } } };
            await using var reader = await cmd.ExecuteReaderAsync();
            var rows = new List<(Guid Id, long Sequence, string Type)>();
            while (await reader.ReadAsync())
            {
                rows.Add((reader.GetGuid(0), reader.GetInt64(1), reader.GetString(2)));
            }
            return rows;
        });
        Assert.Equal(events.Select(e => e.EventId), stored.Select(r => r.Id));
        Assert.Equal(events.Select(e => e.GetType().Name), stored.Select(r => r.Type));
        // One message, one transaction: its rows are one unbroken run of the chain.
        Assert.Equal(Enumerable.Range(0, events.Count).Select(i => stored[0].Sequence + i), stored.Select(r => r.Sequence));

        var verify = await HttpAssert.OkJsonAsync<JsonElement>(await host.AdminClient().GetAsync("/audit/verify"));
        Assert.True(verify.GetProperty("verified").GetBoolean(), verify.ToString());
        Assert.Equal(1, await host.OwnerScalarAsync("SELECT (count(*) = max(sequence))::int FROM audit_events"));
    }

    [Fact]
    public async Task A_redelivered_batch_and_an_overlapping_one_store_each_event_once()
    {
        await using var host = await new AuditHost("batchdup").StartAsync();
        var subject = "u-" + Guid.NewGuid().ToString("N");
        var first = Events(subject, 40);
        var later = Events(subject, 10);

        await host.Bus.Publish(Batch(first));
        await host.Bus.Publish(Batch(first));
        // A dispatcher that crashed after the confirm republishes its rows, maybe with newer ones behind them.
        await host.Bus.Publish(Batch(first.Skip(30).Concat(later)));

        await host.WaitForCountAsync(subject, first.Count + later.Count);
        await Task.Delay(1000); // a second copy, were it to be stored, would have landed by now
        Assert.Equal(first.Count + later.Count, await host.CountAsync(subject));
        Assert.Equal(first.Count + later.Count, await host.OwnerScalarAsync("SELECT count(DISTINCT event_id) FROM audit_events WHERE subject = $1", subject));
    }

    [Fact]
    public async Task Unknown_unreadable_and_invalid_events_of_a_batch_go_to_the_error_queue_and_the_others_are_stored()
    {
        await using var host = await new AuditHost("batchpoison").StartAsync();
        var subject = "u-" + Guid.NewGuid().ToString("N");
        var good = Events(subject, 30);
        var batch = Batch(good);
        var unknown = batch.Events[0] with { EventId = Guid.CreateVersion7(), Type = "SecurePlatform.Contracts.NoSuchEvent" };
        var unreadable = batch.Events[0] with { EventId = Guid.CreateVersion7(), Payload = JsonSerializer.SerializeToElement(new { eventId = "not a guid" }) };
        var invalid = Batch([new LoginFailed { EventId = Guid.Empty, Subject = subject, SourceService = "test", Reason = "invalid_credentials" }]).Events[0];
        var notAnEvent = batch.Events[0] with { EventId = Guid.CreateVersion7(), Type = typeof(Console).FullName! };
        var events = batch.Events.ToList();
        events.Insert(0, unknown);
        events.Insert(10, unreadable);
        events.Insert(20, invalid);
        events.Add(notAnEvent);

        await host.SendToOwnQueueAsync(batch with { Events = events });

        var waited = await Eventually.HoldsAsync(async () => await host.CountAsync(subject) == good.Count, TimeSpan.FromSeconds(30), "good events stored");
        Assert.True(waited < TimeSpan.FromSeconds(10), $"good events took {waited}");
        var errorQueue = host.QueueName + "_error";
        // Retrying cannot help any of them: the message goes to the error queue without the retry back-off.
        var toError = await Eventually.HoldsAsync(async () => await RabbitQueue.MessageCountAsync(errorQueue) == 1, TimeSpan.FromSeconds(30), "the batch in " + errorQueue);
        Assert.True(toError < TimeSpan.FromSeconds(10), $"moving to the error queue took {toError}");
        Assert.Equal(good.Count, await host.CountAsync(subject));
        Assert.Equal(0, await host.OwnerScalarAsync("SELECT count(*) FROM audit_events WHERE event_id = ANY($1)", new[] { unknown.EventId, unreadable.EventId, notAnEvent.EventId }));
    }

    [Fact]
    public async Task A_message_that_is_not_a_batch_at_all_goes_to_the_error_queue_without_holding_up_the_others()
    {
        await using var host = await new AuditHost("batchgarbage").StartAsync();
        var subject = "u-" + Guid.NewGuid().ToString("N");
        await RabbitQueue.SendRawAsync(host.QueueName, "application/vnd.masstransit+json", "{ this is not json"u8.ToArray());
        await host.Bus.Publish(Batch(Events(subject, 20)));

        await host.WaitForCountAsync(subject, 20, TimeSpan.FromSeconds(30));
        await Eventually.HoldsAsync(async () => await RabbitQueue.MessageCountAsync(host.QueueName + "_error") == 1, TimeSpan.FromSeconds(60), "the unreadable message in the error queue");
    }
}

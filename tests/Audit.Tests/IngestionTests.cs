using System.Net.Http.Json;
using System.Text.Json;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using SecurePlatform.Audit.Model;
using SecurePlatform.Contracts;
using SecurePlatform.TestSupport;

namespace SecurePlatform.Audit.Tests;

/// <summary>Events through the real RabbitMQ into the real PostgreSQL: once each, in one chain, append-only.</summary>
public class IngestionTests
{
    /// <summary>One event of every type of the catalogue, about <paramref name="subject"/>.</summary>
    internal static List<IntegrationEvent> OneOfEach(string subject) => IntegrationEventCatalogue.All
        .Select(t => (IntegrationEvent)Activator.CreateInstance(t)!)
        .Select(e => e with { Subject = subject, Actor = subject, SourceService = "test", IpAddress = "203.0.113.9", UserAgent = "tests" })
        .ToList();

    [Fact]
    public async Task Every_event_type_is_stored_once_in_one_verifying_chain()
    {
        await using var host = await new AuditHost("ingest").StartAsync();
        var subject = "u-" + Guid.NewGuid().ToString("N");
        var events = OneOfEach(subject);
        foreach (var evt in events.Concat(OneOfEach(subject)))
        {
            await host.Bus.PublishEventsAsync(evt);
        }
        await host.WaitForCountAsync(subject, events.Count * 2);

        using var client = host.AdminClient();
        var ids = new List<Guid>();
        string? cursor = null;
        do
        {
            var page = await HttpAssert.OkJsonAsync<JsonElement>(await client.GetAsync($"/audit/events?userId={subject}&limit=7" + (cursor is null ? "" : $"&cursor={cursor}")));
            var items = page.GetProperty("items").EnumerateArray().ToList();
            Assert.True(items.Count <= 7);
            ids.AddRange(items.Select(i => i.GetProperty("eventId").GetGuid()));
            var sequences = items.Select(i => i.GetProperty("sequence").GetInt64()).ToList();
            Assert.Equal(sequences.OrderDescending(), sequences);
            cursor = page.GetProperty("nextCursor").GetString();
        }
        while (cursor is not null);

        Assert.Equal(events.Count * 2, ids.Count);
        Assert.Equal(ids.Count, ids.Distinct().Count());
        var types = await host.OwnerAsync(async c =>
        {
            await using var cmd = new NpgsqlCommand("SELECT DISTINCT type FROM audit_events WHERE subject = $1", c) { Parameters = { new() { Value = subject } } };
            await using var reader = await cmd.ExecuteReaderAsync();
            var list = new List<string>();
            while (await reader.ReadAsync())
            {
                list.Add(reader.GetString(0));
            }
            return list;
        });
        Assert.Equal(AuditEventTypes.Names.Order(StringComparer.Ordinal), types.Order(StringComparer.Ordinal));

        var verify = await HttpAssert.OkJsonAsync<JsonElement>(await client.GetAsync("/audit/verify"));
        Assert.True(verify.GetProperty("verified").GetBoolean(), verify.ToString());
        Assert.True(verify.GetProperty("rows").GetInt64() >= events.Count * 2);
        // One total order: sequences 1..N without a hole (one snapshot; other tests' events may still be arriving).
        Assert.Equal(1, await host.OwnerScalarAsync("SELECT (count(*) = max(sequence))::int FROM audit_events"));
    }

    [Fact]
    public async Task The_same_event_published_twice_is_stored_once()
    {
        await using var host = await new AuditHost("duplicate").StartAsync();
        var subject = "u-" + Guid.NewGuid().ToString("N");
        var evt = new LoginSucceeded { Subject = subject, SourceService = "test", SessionId = "s1" };
        var marker = new LoggedOut { Subject = subject, SourceService = "test", SessionId = "s1" };

        await host.Bus.PublishEventsAsync(evt);
        await host.Bus.PublishEventsAsync(evt);
        await host.Bus.PublishEventsAsync(evt with { Actor = "replayed-with-other-content" });
        await host.Bus.PublishEventsAsync(marker);

        await host.WaitForCountAsync(subject, 2);
        await Task.Delay(1000); // a second copy, were it to be stored, would have landed by now
        Assert.Equal(1, await host.OwnerScalarAsync("SELECT count(*) FROM audit_events WHERE event_id = $1", evt.EventId));
        Assert.Equal(2, await host.CountAsync(subject));
        Assert.Null(await host.OwnerAsync(async c =>
        {
            await using var cmd = new NpgsqlCommand("SELECT actor FROM audit_events WHERE event_id = $1", c) { Parameters = { new() { Value = evt.EventId } } };
            return await cmd.ExecuteScalarAsync() as string;
        }));
    }

    [Fact]
    public async Task Two_replicas_consuming_one_queue_keep_one_gapless_verifying_chain()
    {
        await using var first = await new AuditHost("replicas").StartAsync();
        await using var second = await new AuditHost("replicas").StartAsync();
        var subject = "u-" + Guid.NewGuid().ToString("N");
        const int count = 600;
        var events = Enumerable.Range(0, count).Select(i => new TokenRefreshed { Subject = subject, SourceService = "test", SessionId = $"s{i}" }).ToList();

        await Task.WhenAll(events.Chunk(50).Select(async (chunk, i) =>
        {
            var bus = i % 2 == 0 ? first.Bus : second.Bus;
            foreach (var evt in chunk)
            {
                await bus.PublishEventsAsync(evt);
            }
        }));
        // Also batches to both replicas at once, racing for the chain head.
        var batched = Enumerable.Range(0, 200).Select(i => new TokenRefreshed { Subject = subject, SourceService = "test", SessionId = $"d{i}" }).ToList();
        await Task.WhenAll(batched.Chunk(20).Select((chunk, i) => (i % 2 == 0 ? first.Bus : second.Bus).PublishEventsAsync(chunk)));

        await first.WaitForCountAsync(subject, count + 200);
        Assert.Equal(count + 200, await first.CountAsync(subject));
        Assert.Equal(count + 200, await first.OwnerScalarAsync("SELECT count(DISTINCT event_id) FROM audit_events WHERE subject = $1", subject));
        var verify = await HttpAssert.OkJsonAsync<JsonElement>(await second.AdminClient().GetAsync("/audit/verify"));
        Assert.True(verify.GetProperty("verified").GetBoolean(), verify.ToString());
        Assert.Equal(1, await first.OwnerScalarAsync("SELECT (count(*) = max(sequence))::int FROM audit_events"));
    }

    [Fact]
    public async Task A_poison_message_ends_in_the_error_queue_without_holding_up_the_others()
    {
        await using var host = await new AuditHost("poison").StartAsync();
        var subject = "u-" + Guid.NewGuid().ToString("N");
        var poison = new LoginFailed { EventId = Guid.Empty, Subject = subject, SourceService = "test", Reason = "invalid_credentials" };

        await host.SendToOwnQueueAsync(BatchIngestionTests.Batch([poison]));
        var good = Enumerable.Range(0, 20).Select(_ => new LoginFailed { Subject = subject, SourceService = "test", Reason = "invalid_credentials" }).ToList();
        foreach (var evt in good)
        {
            await host.Bus.PublishEventsAsync(evt);
        }

        // The good ones land while the poison one is still being retried.
        var waited = await Eventually.HoldsAsync(async () => await host.CountAsync(subject) == good.Count, TimeSpan.FromSeconds(30), "good events stored");
        Assert.True(waited < TimeSpan.FromSeconds(10), $"good events took {waited}");

        var errorQueue = host.QueueName + "_error";
        await Eventually.HoldsAsync(async () => await RabbitQueue.MessageCountAsync(errorQueue) == 1, TimeSpan.FromSeconds(90), "poison message in " + errorQueue);
        Assert.Equal(good.Count, await host.CountAsync(subject));
    }
}

using System.Diagnostics;
using System.Text.Json;
using Npgsql;
using SecurePlatform.TestSupport;

namespace SecurePlatform.Audit.Tests;

public sealed class AuditFaultInfrastructure : FaultInfrastructure;

[CollectionDefinition(Name)]
public sealed class AuditFaultCollection : ICollectionFixture<AuditFaultInfrastructure>
{
    public const string Name = "audit fault infrastructure";
}

[Collection(AuditFaultCollection.Name)]
public class BrokerFaultTests(AuditFaultInfrastructure fault)
{
    [Fact]
    public async Task Sign_ins_while_RabbitMQ_is_down_reach_the_audit_log_exactly_once_after_it_returns()
    {
        await using var audit = await new AuditHost("brokerdown", fault.ConnectionStrings).StartAsync();
        await using var producer = await TraceTests.StartProducerAsync("brokerdownproducer", fault.ConnectionStrings);
        using var http = new HttpClient { BaseAddress = new Uri(producer.Urls.First()) };
        var subject = "u-" + Guid.NewGuid().ToString("N");
        const int count = 12;

        var traceIds = new List<string>();

        fault.Infra.Down("rabbitmq");
        try
        {
            for (var i = 0; i < count; i++)
            {
                // The producer's request succeeds: the event waits in its outbox. Each request is a trace of its own.
                using var caller = new Activity("test caller").SetParentId(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded).Start();
                var response = await HttpAssert.OkJsonAsync<JsonElement>(await http.PostAsync($"/login/{subject}", null));
                traceIds.Add(response.GetProperty("traceId").GetString()!);
            }
            await Task.Delay(TimeSpan.FromSeconds(2));
            Assert.Equal(0, await audit.CountAsync(subject));
        }
        finally
        {
            fault.Infra.Up("rabbitmq");
        }

        await audit.WaitForCountAsync(subject, count, TimeSpan.FromSeconds(120));
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.Equal(count, await audit.CountAsync(subject));
        Assert.Equal(count, await audit.OwnerScalarAsync("SELECT count(DISTINCT event_id) FROM audit_events WHERE subject = $1", subject));
        // The backlog left the outbox in one or a few batch messages; each row still names its own request's trace.
        var stored = await audit.OwnerAsync(async c =>
        {
            await using var cmd = new NpgsqlCommand("SELECT correlation_id FROM audit_events WHERE subject = $1", c) { Parameters = { new() { Value = subject } } };
            await using var reader = await cmd.ExecuteReaderAsync();
            var ids = new List<string>();
            while (await reader.ReadAsync())
            {
                ids.Add(reader.GetString(0));
            }
            return ids;
        });
        Assert.Equal(traceIds.Order(StringComparer.Ordinal), stored.Order(StringComparer.Ordinal));
        await producer.StopAsync();
    }
}

using Microsoft.EntityFrameworkCore;
using SecurePlatform.TestSupport;

namespace SecurePlatform.Messaging.Tests;

/// <summary>Servers of the fault tests' own (see <see cref="FaultInfrastructure"/>), so stopping the broker disturbs no other test.</summary>
public sealed class MessagingFaultInfrastructure : FaultInfrastructure;

[CollectionDefinition(Name)]
public sealed class MessagingFaultCollection : ICollectionFixture<MessagingFaultInfrastructure>
{
    public const string Name = "messaging fault infrastructure";
}

[Collection(MessagingFaultCollection.Name)]
public class BrokerFaultTests(MessagingFaultInfrastructure fault)
{
    private static readonly TimeSpan Recovery = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task Events_written_while_the_broker_is_down_are_delivered_exactly_once_when_it_returns()
    {
        await using var host = await OutboxHost.StartAsync(fault.ConnectionStrings, "brokerdown");
        await host.WaitForBusAsync();
        var events = Enumerable.Range(1, 5).Select(i => new WidgetCreated { Name = $"w{i}", SourceService = "test" }).ToList();

        fault.Infra.Down("rabbitmq");
        try
        {
            foreach (var evt in events)
            {
                await host.WithDbAsync(async db =>
                {
                    db.Widgets.Add(new Widget { Name = evt.Name });
                    db.AddIntegrationEvent(evt);
                    return await db.SaveChangesAsync();
                });
            }
            await Task.Delay(TimeSpan.FromSeconds(2));
            Assert.Equal(0, await host.WithDbAsync(db => db.Received.CountAsync()));
            Assert.Equal(5, await host.WithDbAsync(db => db.Set<OutboxMessage>().CountAsync(m => m.SentAt == null)));
        }
        finally
        {
            fault.Infra.Up("rabbitmq");
        }

        await Eventually.HoldsAsync(() => host.WithDbAsync(async db => await db.Received.CountAsync() >= 5), Recovery, "all five events consumed after the broker returned");
        await Task.Delay(TimeSpan.FromSeconds(1));
        var received = await host.WithDbAsync(db => db.Received.Select(r => r.EventId).ToListAsync());
        Assert.Equal(events.Select(e => e.EventId).Order(), received.Order());
        Assert.Equal(0, await host.WithDbAsync(db => db.Set<OutboxMessage>().CountAsync(m => m.SentAt == null)));
    }
}

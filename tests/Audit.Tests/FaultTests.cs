using MassTransit;
using SecurePlatform.Contracts;
using SecurePlatform.TestSupport;

namespace SecurePlatform.Audit.Tests;

/// <summary>Outages: nothing is lost and nothing is stored twice.</summary>
public class FaultTests
{
    [Fact]
    public async Task Events_published_while_audit_service_is_stopped_are_all_stored_once_when_it_starts()
    {
        const string name = "stopped";
        // First start declares the durable queue and its bindings, then the service goes away.
        var first = await new AuditHost(name).StartAsync();
        var queue = first.QueueName;
        await first.DisposeAsync();
        // "Stopped" means the broker no longer delivers to it: a consumer still attached would take the events early.
        await Eventually.HoldsAsync(async () => await RabbitQueue.ConsumerCountAsync(queue) == 0, TimeSpan.FromSeconds(30), "the stopped service's consumer is gone");

        var subject = "u-" + Guid.NewGuid().ToString("N");
        var events = Enumerable.Range(0, 200)
            .Select(i => i % 5 == 0
                ? (IntegrationEvent)new LoginFailed { Subject = subject, SourceService = "test", Reason = LoginFailureReasons.InvalidCredentials }
                : new LoginSucceeded { Subject = subject, SourceService = "test", SessionId = $"s{i}" })
            .ToList();
        var publisher = Bus.Factory.CreateUsingRabbitMq(cfg => cfg.Host(new Uri(TestEnvironment.ConnectionString("rabbitmq"))));
        await publisher.StartAsync();
        try
        {
            foreach (var evt in events)
            {
                await publisher.PublishEventsAsync(evt);
            }
            // At-least-once producers redeliver: a few of them again.
            foreach (var evt in events.Take(10))
            {
                await publisher.PublishEventsAsync(evt);
            }
        }
        finally
        {
            await publisher.StopAsync();
        }

        await using var host = new AuditHost(name);
        Assert.Equal(0, await host.CountAsync(subject));
        await host.StartAsync();
        await host.WaitForCountAsync(subject, events.Count);
        await Task.Delay(1000);
        Assert.Equal(events.Count, await host.CountAsync(subject));
        Assert.Equal(0u, await RabbitQueue.MessageCountAsync(host.QueueName));
        Assert.Equal(0u, await RabbitQueue.MessageCountAsync(host.QueueName + "_error"));
    }
}

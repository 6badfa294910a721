using System.Net;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using SecurePlatform.ServiceDefaults.Messaging;
using SecurePlatform.TestSupport;

namespace SecurePlatform.ServiceDefaults.Tests;

[CollectionDefinition(Name)]
public sealed class FaultCollection : ICollectionFixture<FaultInfrastructure>
{
    public const string Name = "fault infrastructure";
}

[Collection(FaultCollection.Name)]
public class FaultTests(FaultInfrastructure fault)
{
    private static readonly TimeSpan Recovery = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task Each_service_reports_what_it_can_serve_while_a_dependency_is_down_and_200_once_it_is_back()
    {
        await using var platform = await Platform.StartAsync(fault.ConnectionStrings, "fault");
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        await AllHealthAsync(platform, http, HttpStatusCode.OK, Recovery);

        // Database and Redis (the revocation check fails closed): requests fail, so 503 and Unhealthy.
        // RabbitMQ: the outbox absorbs it, so 200 and Degraded (before: 503 on all four for the whole outage).
        foreach (var (server, check, status, expected) in new[]
                 {
                     ("postgres", (string?)null, HttpStatusCode.ServiceUnavailable, "Unhealthy"),
                     ("redis", "redis", HttpStatusCode.ServiceUnavailable, "Unhealthy"),
                     ("rabbitmq", "rabbitmq", HttpStatusCode.OK, "Degraded"),
                 })
        {
            fault.Infra.Down(server);
            try
            {
                foreach (var service in platform.Processes.Values)
                {
                    var name = check ?? service.Project.Split('.')[0].ToLowerInvariant() + "db";
                    await Eventually.HoldsAsync(async () =>
                    {
                        var response = await http.GetAsync(new Uri(service.BaseAddress, "/health"));
                        return response.StatusCode == status
                               && CheckStatus(await response.Content.ReadAsStringAsync(), name) == expected;
                    }, TimeSpan.FromSeconds(30), $"{service.Project} reports {name} {expected} ({(int)status}) while {server} is down");
                }
            }
            finally
            {
                fault.Infra.Up(server);
            }
            await AllHealthAsync(platform, http, HttpStatusCode.OK, Recovery);
        }
    }

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

    private static async Task AllHealthAsync(Platform platform, HttpClient http, HttpStatusCode expected, TimeSpan timeout)
    {
        foreach (var service in platform.Processes.Values)
        {
            string last = "";
            try
            {
                await Eventually.HoldsAsync(async () =>
                {
                    var response = await http.GetAsync(new Uri(service.BaseAddress, "/health"));
                    last = await response.Content.ReadAsStringAsync();
                    return response.StatusCode == expected;
                }, timeout, $"{service.Project} /health is {expected}");
            }
            catch (Exception ex) when (ex is Xunit.Sdk.XunitException)
            {
                throw new Xunit.Sdk.XunitException($"{ex.Message}; last body {last}; output:\n{service.Output}");
            }
        }
    }

    private static string? CheckStatus(string body, string check)
    {
        using var json = JsonDocument.Parse(body);
        return json.RootElement.GetProperty("checks").EnumerateArray()
            .Where(c => c.GetProperty("name").GetString() == check)
            .Select(c => c.GetProperty("status").GetString())
            .FirstOrDefault();
    }
}

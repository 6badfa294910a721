using System.Net;
using System.Text.Json;
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

using System.Net;
using System.Net.Http.Json;
using SecurePlatform.TestSupport;

namespace SecurePlatform.EndToEnd.Tests;

/// <summary>The platform on servers of its own (own data folder, ports shifted), so stopping one disturbs no other test.</summary>
public sealed class FaultPlatformFixture : FaultInfrastructure
{
    public Platform Platform { get; private set; } = null!;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        Platform = await Platform.StartAsync(ConnectionStrings, "faultjourney");
        using var http = new HttpClient();
        foreach (var service in Platform.Processes.Values)
        {
            await Eventually.HoldsAsync(async () => (await http.GetAsync(new Uri(service.BaseAddress, "/health"))).IsSuccessStatusCode, TimeSpan.FromSeconds(90), $"{service.Project} healthy");
        }
    }

    /// <summary>
    /// Before each test: every service Healthy and a new user can sign in and read, so one test that failed
    /// mid-outage (leaving the platform recovering) does not fail the next ones too.
    /// </summary>
    public async Task UsableAsync()
    {
        await OutageProbe.UntilAllHealthyAsync(Platform, TimeSpan.FromSeconds(60));
        var user = User.New(Platform);
        await user.RegisterAsync();
        var tokens = await user.LoginAsync();
        using var http = User.Http(Platform.Profile, tokens.Access);
        await Eventually.HoldsAsync(async () => (await http.GetAsync("/profiles/me")).IsSuccessStatusCode, TimeSpan.FromSeconds(30), "a new session is usable");
    }

    public override async Task DisposeAsync()
    {
        await Platform.DisposeAsync();
        await base.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class FaultPlatformCollection : ICollectionFixture<FaultPlatformFixture>
{
    public const string Name = "fault platform";
}

/// <summary>Sign-in events are never lost or doubled, whether the broker or the audit-service is away.</summary>
[Collection(FaultPlatformCollection.Name)]
public class FaultJourneyTests(FaultPlatformFixture fault) : IAsyncLifetime
{
    private Platform P => fault.Platform;

    public Task InitializeAsync() => fault.UsableAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    private const string LoginTypes = "LoginSucceeded,LoginFailed";

    /// <summary>3 good and 2 bad logins of one user; each must succeed or fail as it should.</summary>
    private async Task LoginFiveTimesAsync(User user)
    {
        for (var i = 0; i < 3; i++)
        {
            await user.LoginAsync($"fault-{i}");
        }
        for (var i = 0; i < 2; i++)
        {
            var bad = await User.Http(P.Auth).PostAsJsonAsync("/auth/login", new { email = user.Email, password = user.Password + "x" });
            Assert.Equal(HttpStatusCode.Unauthorized, bad.StatusCode);
        }
    }

    /// <summary>The login before the outage plus the five during it: six events, each once.</summary>
    private async Task ExactlyTheLoginEventsArriveAsync(string admin, string sub, TimeSpan within)
    {
        var events = await AuditTrail.WaitForAsync(P, admin, sub, 6, LoginTypes, within);
        await Task.Delay(TimeSpan.FromSeconds(2)); // a duplicate would land by now
        events = await AuditTrail.EventsAsync(P, admin, sub, LoginTypes);
        Assert.Equal(6, events.Count);
        Assert.Equal(6, events.Select(e => e.GetProperty("eventId").GetString()).Distinct().Count());
        Assert.Equal(4, events.Count(e => e.Type() == "LoginSucceeded"));
        Assert.Equal(2, events.Count(e => e.Type() == "LoginFailed"));
    }

    private static async Task<(bool, TimeSpan)> TimedAsync(Func<Task> action)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await action();
        return (true, clock.Elapsed);
    }

    [Fact]
    public async Task With_rabbitmq_stopped_logins_work_and_their_events_arrive_exactly_once_when_it_returns()
    {
        var user = User.New(P);
        await user.RegisterAsync();
        var admin = await AuditTrail.AdminTokenAsync(P);
        var sub = (await user.LoginAsync()).Sub;
        await AuditTrail.WaitForAsync(P, admin, sub, 1, "LoginSucceeded");

        fault.Infra.Down("rabbitmq");
        try
        {
            var (_, took) = await TimedAsync(() => LoginFiveTimesAsync(user));
            OutageProbe.Record("rabbitmq", "5 logins (3 good, 2 bad) during the outage", $"all as expected, {took.TotalMilliseconds:0} ms");
        }
        finally
        {
            fault.Infra.Up("rabbitmq");
        }

        var (_, arrived) = await TimedAsync(() => ExactlyTheLoginEventsArriveAsync(admin, sub, TimeSpan.FromSeconds(90)));
        OutageProbe.Record("rabbitmq", "events after the broker returned", $"6 of 6, each once (lost 0, doubled 0); all in within {arrived.TotalMilliseconds - 2000:0} ms");
    }

    [Fact]
    public async Task With_audit_service_stopped_logins_work_and_their_events_arrive_exactly_once_when_it_returns()
    {
        var user = User.New(P);
        await user.RegisterAsync();
        var admin = await AuditTrail.AdminTokenAsync(P);
        var sub = (await user.LoginAsync()).Sub;
        await AuditTrail.WaitForAsync(P, admin, sub, 1, "LoginSucceeded");

        await P.StopAsync("Audit.Api");
        try
        {
            var (_, took) = await TimedAsync(() => LoginFiveTimesAsync(user));
            OutageProbe.Record("audit-service", "5 logins (3 good, 2 bad) while it is stopped", $"all as expected, {took.TotalMilliseconds:0} ms");
        }
        finally
        {
            var (_, started) = await TimedAsync(() => P.StartAgainAsync("Audit.Api"));
            OutageProbe.Record("audit-service", "restart until /alive", $"{started.TotalMilliseconds:0} ms");
        }
        var healthy = await OutageProbe.UntilAllHealthyAsync(P, TimeSpan.FromSeconds(60));
        OutageProbe.Record("audit-service", "time to Healthy after /alive", OutageProbe.Format(healthy));

        var (_, arrived) = await TimedAsync(() => ExactlyTheLoginEventsArriveAsync(admin, sub, TimeSpan.FromSeconds(60)));
        OutageProbe.Record("audit-service", "events after it returned", $"6 of 6, each once (lost 0, doubled 0); all in within {arrived.TotalMilliseconds - 2000:0} ms");
    }
}

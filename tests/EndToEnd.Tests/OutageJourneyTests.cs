using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using SecurePlatform.TestSupport;

namespace SecurePlatform.EndToEnd.Tests;

/// <summary>
/// What clients see while a dependency is away and after it returns (issue 16): a fast, honest 503 with
/// Retry-After, never a 401 for "could not check" and never a 500; a sign-out is never lost; readiness says
/// whether the service can serve; Healthy again within 2 s. Timings go to .local/fault-measurements.log.
/// </summary>
[Collection(FaultPlatformCollection.Name)]
public class OutageJourneyTests(FaultPlatformFixture fault) : IAsyncLifetime
{
    public Task InitializeAsync() => fault.UsableAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    private static readonly TimeSpan Fast = TimeSpan.FromSeconds(1);

    /// <summary>
    /// A failing database call: one connection attempt refused, on 2 cores shared with other work. Far below the
    /// 15-30 s of a connection or command timeout, which is what this tells apart; audit-service's first call after the
    /// stop was seen at 2.3 s late in a full run (1 s alone), so 2 s was a timing assert more than a behaviour check.
    /// </summary>
    private static readonly TimeSpan FastDatabaseFailure = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan BackToHealthy = TimeSpan.FromSeconds(2);

    private Platform P => fault.Platform;

    private Task<HttpResponseMessage> RefreshAsync(string refreshToken) =>
        User.Http(P.Token).PostAsync("/connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token", ["client_id"] = "platform-app", ["refresh_token"] = refreshToken,
        }));

    /// <summary>
    /// A refresh after Redis returned, once the token policy's limiter answers again: its circuit breaker (it
    /// fails closed) lets a trial call through after its break and closes when Redis answers. Bounded, and recorded.
    /// </summary>
    private async Task<HttpResponseMessage> RefreshAfterReturnAsync(string refreshToken)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var response = await RefreshAsync(refreshToken);
            if (response.StatusCode != HttpStatusCode.ServiceUnavailable || clock.Elapsed > TimeSpan.FromSeconds(5))
            {
                OutageProbe.Record("redis", "token endpoint answers again after Healthy", $"{clock.Elapsed.TotalMilliseconds:0} ms");
                return response;
            }
            await Task.Delay(100);
        }
    }

    private async Task<HttpResponseMessage> LoginResponseAsync(User user) =>
        await User.Http(P.Auth).PostAsJsonAsync("/auth/login", new { email = user.Email, password = user.Password });

    /// <summary>The protected reads a client makes with one access token: profile, sessions, own audit trail.</summary>
    private IEnumerable<(ServiceProcess Service, string Path)> ProtectedReads() =>
        [(P.Profile, "/profiles/me"), (P.Token, "/sessions"), (P.Audit, "/audit/me")];

    private async Task AllRefusedAsync(string accessToken, HttpStatusCode expected)
    {
        foreach (var (service, path) in ProtectedReads())
        {
            var response = await User.Http(service, accessToken).GetAsync(path);
            Assert.True(expected == response.StatusCode, $"{service.Project} {path}: expected {expected}, got {(int)response.StatusCode}");
        }
    }

    [Fact]
    public async Task Sign_out_during_a_redis_outage_ends_the_session_and_it_stays_dead_when_redis_returns()
    {
        const string Fault = "redis";
        var user = User.New(P);
        await user.RegisterAsync();
        var tokens = await user.LoginAsync();
        await AllRefusedAsync(tokens.Access, HttpStatusCode.OK); // all three answer 200 before the outage

        fault.Infra.Down("redis");
        var outage = Stopwatch.StartNew();
        try
        {
            // Before: every call waited 5-6 s and got 401. Now: 503 problem+json with Retry-After, fast.
            // A request in the moment between Redis going and the service noticing its connection drop is still
            // answered from what the service knew a moment earlier; from then on, 503.
            var noticed = await Eventually.HoldsAsync(async () =>
                (await User.Http(P.Profile, tokens.Access).GetAsync("/profiles/me")).StatusCode == HttpStatusCode.ServiceUnavailable,
                TimeSpan.FromSeconds(2), "profile-service notices that Redis is gone");
            OutageProbe.Record(Fault, "until profile-service noticed", $"{noticed.TotalMilliseconds:0} ms");
            var (first, firstTime) = await OutageProbe.TimeAsync(() => User.Http(P.Profile, tokens.Access).GetAsync("/profiles/me"));
            await OutageProbe.IsOutageAsync(first);
            for (var i = 0; i < 3; i++)
            {
                await User.Http(P.Profile, tokens.Access).GetAsync("/profiles/me"); // the circuit opens
            }
            var (open, openTime) = await OutageProbe.TimeAsync(() => User.Http(P.Profile, tokens.Access).GetAsync("/profiles/me"));
            await OutageProbe.IsOutageAsync(open);
            Assert.True(openTime < Fast, $"protected read took {openTime.TotalMilliseconds:0} ms with the circuit open");
            OutageProbe.Record(Fault, "protected read, first / circuit open", $"503 {firstTime.TotalMilliseconds:0} ms / {openTime.TotalMilliseconds:0} ms");
            foreach (var (service, path) in ProtectedReads())
            {
                await OutageProbe.IsOutageAsync(await User.Http(service, tokens.Access).GetAsync(path));
            }

            // Login and refresh: no tokens that no service would accept — 503 with Retry-After.
            var (login, loginTime) = await OutageProbe.TimeAsync(() => LoginResponseAsync(user));
            await OutageProbe.IsOutageAsync(login);
            OutageProbe.Record(Fault, "login", $"{(int)login.StatusCode} {loginTime.TotalMilliseconds:0} ms");

            // Sign-out: the session ends now (tokendb), whatever Redis is doing.
            var (logout, logoutTime) = await OutageProbe.TimeAsync(() => User.Http(P.Auth, tokens.Access).PostAsync("/auth/logout", null));
            Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
            OutageProbe.Record(Fault, "sign-out", $"{(int)logout.StatusCode} {logoutTime.TotalMilliseconds:0} ms");

            // A refresh of the session just signed out of: never new tokens.
            var (refresh, refreshTime) = await OutageProbe.TimeAsync(() => RefreshAsync(tokens.Refresh));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refresh.StatusCode);
            OutageProbe.AssertRetryAfter(refresh);
            // Refused by the token endpoint's own check (OAuth temporarily_unavailable) or, since the limits live in
            // Redis too, already by the token policy's fail-closed limiter (the platform's 503 problem): never tokens.
            var body = await refresh.Content.ReadFromJsonAsync<JsonElement>();
            Assert.True(body.TryGetProperty("error", out var error) ? error.GetString() == "temporarily_unavailable" : body.GetProperty("status").GetInt32() == 503,
                $"refresh during the outage: {body}");
            Assert.False(body.TryGetProperty("access_token", out _));
            OutageProbe.Record(Fault, "refresh of the signed-out session", $"{(int)refresh.StatusCode} {refreshTime.TotalMilliseconds:0} ms");

            // Readiness: without Redis the fail-closed check cannot serve, so 503 with redis Unhealthy.
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            foreach (var service in P.Processes.Values)
            {
                var (status, _, check) = await OutageProbe.HealthAsync(http, service, "redis");
                Assert.True(status == HttpStatusCode.ServiceUnavailable && check == "Unhealthy", $"{service.Project} /health {(int)status}, redis {check}");
            }
        }
        finally
        {
            fault.Infra.Up("redis");
        }
        OutageProbe.Record(Fault, "outage length", $"{outage.Elapsed.TotalMilliseconds:0} ms");

        // From Redis's return until token-service has replayed tokendb's revocations, count what the signed-out
        // token gets: the replay closes the window, measured here.
        var seen = new List<HttpStatusCode>();
        using var stopWatching = new CancellationTokenSource();
        var watcher = Task.Run(async () =>
        {
            while (!stopWatching.IsCancellationRequested)
            {
                try
                {
                    seen.Add((await User.Http(P.Profile, tokens.Access).GetAsync("/profiles/me", stopWatching.Token)).StatusCode);
                }
                catch (OperationCanceledException)
                {
                }
                await Task.Delay(20);
            }
        });
        var healthy = await OutageProbe.UntilAllHealthyAsync(P, TimeSpan.FromSeconds(30));
        await stopWatching.CancelAsync();
        await watcher;
        OutageProbe.Record(Fault, "time to Healthy", OutageProbe.Format(healthy));
        OutageProbe.Record(Fault, "signed-out token after return, until Healthy", string.Join(",", seen.GroupBy(s => (int)s).Select(g => $"{g.Key}x{g.Count()}")));
        Assert.All(healthy.Values, t => Assert.True(t <= BackToHealthy, $"Healthy after {t.TotalMilliseconds:0} ms: {OutageProbe.Format(healthy)}"));

        // After: the session stays dead on every service, and its refresh token is refused for good.
        var answered = await Eventually.HoldsAsync(async () => (await User.Http(P.Profile, tokens.Access).GetAsync("/profiles/me")).StatusCode != HttpStatusCode.ServiceUnavailable,
            BackToHealthy, "profile-service checks sessions again");
        OutageProbe.Record(Fault, "after Healthy, until checks answer again", $"{answered.TotalMilliseconds:0} ms");
        Assert.DoesNotContain(HttpStatusCode.OK, seen); // the signed-out token never got through
        await AllRefusedAsync(tokens.Access, HttpStatusCode.Unauthorized);
        var refreshAfter = await RefreshAfterReturnAsync(tokens.Refresh);
        Assert.Equal(HttpStatusCode.BadRequest, refreshAfter.StatusCode);
        Assert.Equal("invalid_grant", (await refreshAfter.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString());
        // And signing in works again.
        var again = await user.LoginAsync();
        await AllRefusedAsync(again.Access, HttpStatusCode.OK);
    }

    [Fact]
    public async Task A_refresh_during_a_redis_outage_of_a_session_revoked_just_before_it_is_refused_and_stays_refused()
    {
        var user = User.New(P);
        await user.RegisterAsync();
        var before = await user.LoginAsync("device-before");
        var during = await user.LoginAsync("device-during");
        var kept = await user.LoginAsync("device-kept");
        Assert.Equal(HttpStatusCode.NoContent, (await User.Http(P.Token, before.Access).DeleteAsync($"/sessions/{before.Sid}")).StatusCode);
        await AllRefusedAsync(before.Access, HttpStatusCode.Unauthorized);

        fault.Infra.Down("redis"); // Redis keeps no data here: its revocation keys are gone when it returns
        try
        {
            // Revoked just before the outage, and revoked during it (one session ending another, checked in tokendb).
            Assert.Equal(HttpStatusCode.NoContent, (await User.Http(P.Token, kept.Access).DeleteAsync($"/sessions/{during.Sid}")).StatusCode);
            foreach (var revoked in new[] { before, during })
            {
                var refresh = await RefreshAsync(revoked.Refresh);
                Assert.True(refresh.StatusCode is HttpStatusCode.ServiceUnavailable or HttpStatusCode.BadRequest, $"refresh during the outage: {(int)refresh.StatusCode}");
            }
            // A token of a revoked session cannot use tokendb's check to end other sessions.
            Assert.Equal(HttpStatusCode.Unauthorized, (await User.Http(P.Token, before.Access).DeleteAsync("/sessions")).StatusCode);
        }
        finally
        {
            fault.Infra.Up("redis");
        }
        await OutageProbe.UntilAllHealthyAsync(P, TimeSpan.FromSeconds(30));
        foreach (var (service, path) in ProtectedReads())
        {
            await Eventually.HoldsAsync(async () => (await User.Http(service, kept.Access).GetAsync(path)).StatusCode != HttpStatusCode.ServiceUnavailable,
                BackToHealthy, $"{service.Project} checks sessions again");
        }

        foreach (var revoked in new[] { before, during })
        {
            await AllRefusedAsync(revoked.Access, HttpStatusCode.Unauthorized);
            var refresh = await RefreshAfterReturnAsync(revoked.Refresh);
            Assert.Equal(HttpStatusCode.BadRequest, refresh.StatusCode);
        }
        await AllRefusedAsync(kept.Access, HttpStatusCode.OK);
        Assert.Equal(HttpStatusCode.OK, (await RefreshAsync(kept.Refresh)).StatusCode);
    }

    [Fact]
    public async Task With_postgres_stopped_every_service_answers_503_with_retry_after_fast_and_recovers()
    {
        const string Fault = "postgres";
        var user = User.New(P);
        await user.RegisterAsync();
        var tokens = await user.LoginAsync();
        Assert.Equal(HttpStatusCode.OK, (await User.Http(P.Profile, tokens.Access).GetAsync("/profiles/me")).StatusCode);

        fault.Infra.Down("postgres");
        try
        {
            // Before: 500 "An unexpected error occurred". Now: the same 503 shape on every service.
            var calls = new (string Name, Func<Task<HttpResponseMessage>> Send)[]
            {
                ("auth login", () => LoginResponseAsync(user)),
                ("token sessions", () => User.Http(P.Token, tokens.Access).GetAsync("/sessions")),
                ("profile read", () => User.Http(P.Profile, tokens.Access).GetAsync("/profiles/me")),
                ("audit own trail", () => User.Http(P.Audit, tokens.Access).GetAsync("/audit/me")),
            };
            foreach (var (name, send) in calls)
            {
                var (response, elapsed) = await OutageProbe.TimeAsync(send);
                await OutageProbe.IsOutageAsync(response);
                OutageProbe.Record(Fault, name, $"{(int)response.StatusCode} {elapsed.TotalMilliseconds:0} ms");
                Assert.True(elapsed < FastDatabaseFailure, $"{name} took {elapsed.TotalMilliseconds:0} ms");
            }
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            foreach (var service in P.Processes.Values)
            {
                var db = service.Project.Split('.')[0].ToLowerInvariant() + "db";
                var (status, _, check) = await OutageProbe.HealthAsync(http, service, db);
                Assert.True(status == HttpStatusCode.ServiceUnavailable && check == "Unhealthy", $"{service.Project} /health {(int)status}, {db} {check}");
            }
        }
        finally
        {
            fault.Infra.Up("postgres");
        }
        var healthy = await OutageProbe.UntilAllHealthyAsync(P, TimeSpan.FromSeconds(30));
        OutageProbe.Record(Fault, "time to Healthy", OutageProbe.Format(healthy));
        Assert.All(healthy.Values, t => Assert.True(t <= BackToHealthy, $"Healthy after {t.TotalMilliseconds:0} ms: {OutageProbe.Format(healthy)}"));
        Assert.Equal(HttpStatusCode.OK, (await User.Http(P.Profile, tokens.Access).GetAsync("/profiles/me")).StatusCode);
        await user.LoginAsync();
    }

    [Fact]
    public async Task With_rabbitmq_stopped_readiness_is_degraded_with_200_and_requests_succeed()
    {
        const string Fault = "rabbitmq";
        var user = User.New(P);
        await user.RegisterAsync();
        var tokens = await user.LoginAsync();

        fault.Infra.Down("rabbitmq");
        try
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            foreach (var service in P.Processes.Values)
            {
                // Before: 503 on all four for the whole outage. Now: Degraded, 200 (the outbox holds the events).
                await Eventually.HoldsAsync(async () => (await OutageProbe.HealthAsync(http, service, "rabbitmq")).Check == "Degraded",
                    TimeSpan.FromSeconds(15), $"{service.Project} reports rabbitmq Degraded");
                var (status, overall, _) = await OutageProbe.HealthAsync(http, service);
                Assert.True(status == HttpStatusCode.OK && overall == "Degraded", $"{service.Project} /health {(int)status} {overall}");
            }
            var (login, loginTime) = await OutageProbe.TimeAsync(() => LoginResponseAsync(user));
            Assert.Equal(HttpStatusCode.OK, login.StatusCode);
            var (read, readTime) = await OutageProbe.TimeAsync(() => User.Http(P.Profile, tokens.Access).GetAsync("/profiles/me"));
            Assert.Equal(HttpStatusCode.OK, read.StatusCode);
            OutageProbe.Record(Fault, "login / profile read", $"{(int)login.StatusCode} {loginTime.TotalMilliseconds:0} ms / {(int)read.StatusCode} {readTime.TotalMilliseconds:0} ms");
        }
        finally
        {
            fault.Infra.Up("rabbitmq");
        }
        // Readiness stays 200 throughout; the broker check is Healthy at once. The consumers' bus endpoints
        // (token-service, audit-service) reconnect on MassTransit's own receive-transport back-off, which 8.5
        // does not expose: their "masstransit" check is Degraded (still 200) until then. Measured, bounded loosely.
        using (var probe = new HttpClient { Timeout = TimeSpan.FromSeconds(10) })
        {
            var clock = Stopwatch.StartNew();
            foreach (var service in P.Processes.Values)
            {
                await Eventually.HoldsAsync(async () => (await OutageProbe.HealthAsync(probe, service, "rabbitmq")) is { Status: HttpStatusCode.OK, Check: "Healthy" },
                    BackToHealthy, $"{service.Project} rabbitmq check Healthy again");
            }
            OutageProbe.Record(Fault, "broker check Healthy again (all four)", $"{clock.Elapsed.TotalMilliseconds:0} ms");
        }
        var healthy = await OutageProbe.UntilAllHealthyAsync(P, TimeSpan.FromSeconds(60));
        OutageProbe.Record(Fault, "time to Healthy (incl. MassTransit consumers)", OutageProbe.Format(healthy));
        Assert.All(healthy.Values, t => Assert.True(t <= TimeSpan.FromSeconds(20), $"Healthy after {t.TotalMilliseconds:0} ms: {OutageProbe.Format(healthy)}"));
    }
}

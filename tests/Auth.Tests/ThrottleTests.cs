using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using SecurePlatform.Auth.Apis;
using SecurePlatform.Auth.Model;
using SecurePlatform.Contracts;
using SecurePlatform.Messaging;
using SecurePlatform.ServiceDefaults.RateLimiting;
using SecurePlatform.TestSupport;

namespace SecurePlatform.Auth.Tests;

/// <summary>auth-service with small budgets and a short progressive delay, shared (same key prefix) with a second instance.</summary>
public sealed class ThrottleAuthApp() : AuthApp("throttle", Settings)
{
    public const int LoginPerIp = 8;
    public const int FreeFailures = 3;
    public const int RegisterPerIp = 3;

    public static readonly string KeyPrefix = TestEnvironment.RateLimitKeyPrefix("throttle");

    public static Dictionary<string, string?> Settings => new()
    {
        ["RateLimiting:KeyPrefix"] = KeyPrefix,
        ["RateLimiting:Policies:login:PermitLimit"] = LoginPerIp.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["RateLimiting:Policies:login-account:PermitLimit"] = "10",
        ["RateLimiting:Policies:register:PermitLimit"] = RegisterPerIp.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Login:Throttle:FreeFailures"] = FreeFailures.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Login:Throttle:BaseDelay"] = "00:00:02",
        ["Login:Throttle:MaxDelay"] = "00:00:04",
        ["Login:Throttle:FailureMemory"] = "00:10:00",
    };

    /// <summary>A client whose connections come from <paramref name="sourceAddress"/>.</summary>
    public HttpClient From(string sourceAddress) => SourceAddressClient.Create(Client.BaseAddress!, sourceAddress);
}

/// <summary>
/// Throttling and brute-force protection against the real servers. Every test has its own source addresses
/// (127.0.N.x) and accounts, so their budgets never meet.
/// </summary>
public class ThrottleTests(ThrottleAuthApp app) : IClassFixture<ThrottleAuthApp>
{
    private const string Password = "zebra glacier 47 lantern";
    private const string Wrong = "zebra glacier 47 lanterns";

    private static Task<HttpResponseMessage> LoginAsync(HttpClient client, string email, string password, string? deviceCookie = null, string? forwardedFor = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/auth/login") { Content = JsonContent.Create(new { email, password }) };
        if (deviceCookie is not null)
        {
            request.Headers.Add("Cookie", deviceCookie);
        }
        if (forwardedFor is not null)
        {
            request.Headers.Add("X-Forwarded-For", forwardedFor);
        }
        return client.SendAsync(request);
    }

    private static async Task<string> RegisterAsync(HttpClient client, string email)
    {
        var response = await client.PostAsJsonAsync("/auth/register", new { email, password = Password });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
    }

    /// <summary>The <c>name=value</c> of the device cookie a sign-in set.</summary>
    private static string DeviceCookie(HttpResponseMessage response) =>
        Assert.Single(response.Headers.GetValues("Set-Cookie"), c => c.StartsWith("__Secure-sp_device=", StringComparison.Ordinal)).Split(';')[0];

    private static int RetryAfter(HttpResponseMessage response) => (int)response.Headers.RetryAfter!.Delta!.Value.TotalSeconds;

    private static async Task<string> BodyWithoutTraceIdAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        var traceId = JsonSerializer.Deserialize<JsonElement>(body).GetProperty("traceId").GetString()!;
        return body.Replace(traceId, "<trace>", StringComparison.Ordinal);
    }

    private static List<string> HeaderNames(HttpResponseMessage response) =>
        [.. response.Headers.Select(h => h.Key).Concat(response.Content.Headers.Select(h => h.Key)).Where(h => h != "Date").Order()];

    private async Task<int> CountAsync(string type, string? subject = null)
    {
        var payloads = await app.WithDbAsync(db => db.Set<OutboxMessage>().Where(m => m.Type == "SecurePlatform.Contracts." + type).Select(m => m.Payload).ToListAsync());
        return payloads.Count(p => subject == null || p.Contains(subject, StringComparison.Ordinal));
    }

    private static async Task AssertThrottledAsync(HttpResponseMessage response)
    {
        var problem = await HttpAssert.IsProblemAsync(response, HttpStatusCode.TooManyRequests);
        Assert.Equal(RateLimitRejection.Title, problem.GetProperty("title").GetString());
        Assert.InRange(RetryAfter(response), 1, 3600);
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
        Assert.False(response.Headers.Contains("Set-Cookie"));
        HttpAssert.HasSecurityHeaders(response);
    }

    [Fact]
    public async Task A_scripted_attack_on_one_account_is_slowed_progressively_and_the_right_password_does_not_get_through()
    {
        var email = AuthApp.NewEmail("victim");
        var id = await RegisterAsync(app.From("127.0.1.1"), email);
        using var attacker = app.From("127.0.1.2");
        var tokensBefore = app.TokenService.TokenRequests.Count;

        for (var i = 0; i < ThrottleAuthApp.FreeFailures; i++)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await LoginAsync(attacker, email, Wrong + i)).StatusCode);
        }
        var slowed = await LoginAsync(attacker, email, Wrong);
        await AssertThrottledAsync(slowed);
        Assert.InRange(RetryAfter(slowed), 1, 2); // BaseDelay 2 s
        // The right password during the wait gets the same answer: the throttle decides before the password is looked at.
        var right = await LoginAsync(attacker, email, Password);
        await AssertThrottledAsync(right);
        Assert.Equal(await BodyWithoutTraceIdAsync(slowed), await BodyWithoutTraceIdAsync(right));

        await Task.Delay(TimeSpan.FromSeconds(RetryAfter(right)) + TimeSpan.FromMilliseconds(300));
        Assert.Equal(HttpStatusCode.Unauthorized, (await LoginAsync(attacker, email, Wrong)).StatusCode);
        var slower = await LoginAsync(attacker, email, Wrong);
        await AssertThrottledAsync(slower);
        Assert.InRange(RetryAfter(slower), 3, 4); // doubled, and capped at MaxDelay 4 s

        // Only the attempts that were checked were recorded; nothing was issued.
        Assert.Equal(ThrottleAuthApp.FreeFailures + 1, await CountAsync(nameof(LoginFailed), id));
        Assert.Equal(1, await CountAsync(nameof(AccountLockedOut), id));
        Assert.Equal(tokensBefore, app.TokenService.TokenRequests.Count);
    }

    [Fact]
    public async Task The_owner_on_a_known_device_gets_in_at_once_during_an_attack_and_clients_without_its_cookie_wait()
    {
        var email = AuthApp.NewEmail("owner");
        using var owner = app.From("127.0.2.1");
        await RegisterAsync(owner, email);
        var signedIn = await LoginAsync(owner, email, Password);
        Assert.Equal(HttpStatusCode.OK, signedIn.StatusCode);
        var device = DeviceCookie(signedIn);

        using var attacker = app.From("127.0.2.2");
        for (var i = 0; i <= ThrottleAuthApp.FreeFailures; i++)
        {
            await LoginAsync(attacker, email, Wrong);
        }
        await AssertThrottledAsync(await LoginAsync(attacker, email, Password));

        var known = await LoginAsync(owner, email, Password, device);
        Assert.Equal(HttpStatusCode.OK, known.StatusCode);
        DeviceCookie(known); // renewed

        // Without the cookie (an API client), with a tampered one, or with one bound to another account: throttled.
        await AssertThrottledAsync(await LoginAsync(owner, email, Password));
        await AssertThrottledAsync(await LoginAsync(owner, email, Password, device[..^4] + "AAAA"));
        var other = AuthApp.NewEmail("other");
        await RegisterAsync(owner, other);
        var otherDevice = DeviceCookie(await LoginAsync(owner, other, Password));
        await AssertThrottledAsync(await LoginAsync(owner, email, Password, otherDevice));
        // The attack goes on being slowed although the owner got in.
        await AssertThrottledAsync(await LoginAsync(attacker, email, Wrong));
    }

    [Fact]
    public async Task Under_attack_a_known_and_an_unknown_email_answer_alike()
    {
        var known = AuthApp.NewEmail("known");
        var id = await RegisterAsync(app.From("127.0.3.1"), known);
        var unknown = AuthApp.NewEmail("unknown");
        using var first = app.From("127.0.3.2");
        using var second = app.From("127.0.3.3");
        for (var i = 0; i < ThrottleAuthApp.FreeFailures; i++)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await LoginAsync(first, known, Wrong)).StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, (await LoginAsync(second, unknown, Wrong)).StatusCode);
        }
        var failedBefore = await CountAsync(nameof(LoginFailed));
        var usersBefore = await app.WithDbAsync(db => db.Users.CountAsync());

        var knownWrong = await LoginAsync(first, known, Wrong);
        var unknownWrong = await LoginAsync(second, unknown, Wrong);
        var knownRight = await LoginAsync(first, known, Password);

        var expectedHeaders = HeaderNames(unknownWrong);
        var expectedBody = await BodyWithoutTraceIdAsync(unknownWrong);
        foreach (var response in new[] { knownWrong, knownRight, unknownWrong })
        {
            await AssertThrottledAsync(response);
            Assert.Equal(expectedHeaders, HeaderNames(response));
            Assert.Equal(expectedBody, await BodyWithoutTraceIdAsync(response));
            Assert.InRange(RetryAfter(response), RetryAfter(unknownWrong) - 1, RetryAfter(unknownWrong) + 1);
        }
        Assert.Equal(failedBefore, await CountAsync(nameof(LoginFailed))); // throttled attempts were never checked
        Assert.Equal(usersBefore, await app.WithDbAsync(db => db.Users.CountAsync()));
        Assert.Equal(ThrottleAuthApp.FreeFailures, await CountAsync(nameof(LoginFailed), id));
    }

    [Fact]
    public async Task A_spoofed_X_Forwarded_For_from_an_unlisted_proxy_buys_no_fresh_budget()
    {
        using var client = app.From("127.0.5.1");
        for (var i = 0; i < ThrottleAuthApp.LoginPerIp; i++)
        {
            var response = await LoginAsync(client, AuthApp.NewEmail(), Wrong, forwardedFor: $"203.0.113.{i + 1}");
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }
        await AssertThrottledAsync(await LoginAsync(client, AuthApp.NewEmail(), Wrong, forwardedFor: "198.51.100.77"));

        var failures = await app.WithDbAsync(db => db.Set<OutboxMessage>().Where(m => m.Type == "SecurePlatform.Contracts.LoginFailed").ToListAsync());
        Assert.DoesNotContain(failures, m => m.Payload.Contains("203.0.113.", StringComparison.Ordinal));
        Assert.Equal(ThrottleAuthApp.LoginPerIp, failures.Count(m => JsonSerializer.Deserialize<LoginFailed>(m.Payload, JsonSerializerOptions.Web)!.IpAddress == "127.0.5.1"));
    }

    [Fact]
    public async Task Registration_is_limited_per_IP_nothing_is_stored_beyond_it_and_a_flood_of_429s_is_audited_once()
    {
        using var client = app.From("127.0.6.1");
        for (var i = 0; i < ThrottleAuthApp.RegisterPerIp; i++)
        {
            await RegisterAsync(client, AuthApp.NewEmail("reg"));
        }
        var (users, roles, events) = await app.CountRowsAsync();
        var registeredBefore = await CountAsync(nameof(UserRegistered));

        for (var i = 0; i < 15; i++)
        {
            var refused = await client.PostAsJsonAsync("/auth/register", new { email = AuthApp.NewEmail("reg"), password = Password });
            await AssertThrottledAsync(refused);
        }

        var (usersAfter, rolesAfter, eventsAfter) = await app.CountRowsAsync();
        Assert.Equal((users, roles), (usersAfter, rolesAfter));
        Assert.Equal(registeredBefore, await CountAsync(nameof(UserRegistered)));
        // Fifteen refusals, one audit event (policy and IP), and nothing else written.
        var throttled = await app.WithDbAsync(db => db.Set<OutboxMessage>().Where(m => m.Type == "SecurePlatform.Contracts.RequestThrottled").ToListAsync());
        var mine = throttled.Select(m => JsonSerializer.Deserialize<RequestThrottled>(m.Payload, JsonSerializerOptions.Web)!).Where(e => e.IpAddress == "127.0.6.1").ToList();
        var single = Assert.Single(mine);
        Assert.Equal(RateLimitPolicies.Register, single.Policy);
        Assert.Equal("auth-service", single.SourceService);
        Assert.Equal(events + 1, eventsAfter);
    }

    [Fact]
    public async Task Two_instances_against_one_Redis_share_the_budgets_and_accept_each_others_device_cookies()
    {
        // A replica: same database, same Redis, same settings (and the first instance drops the database).
        await using var other = new ConfiguredAuthApp("throttle", ThrottleAuthApp.Settings) { KeepDatabase = true };
        await ((IAsyncLifetime)other).InitializeAsync();
        using var toFirst = app.From("127.0.4.1");
        using var toSecond = SourceAddressClient.Create(other.Client.BaseAddress!, "127.0.4.1");

        for (var i = 0; i < ThrottleAuthApp.LoginPerIp; i++)
        {
            var response = await LoginAsync(i % 2 == 0 ? toFirst : toSecond, AuthApp.NewEmail(), Wrong);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }
        await AssertThrottledAsync(await LoginAsync(toFirst, AuthApp.NewEmail(), Wrong));
        await AssertThrottledAsync(await LoginAsync(toSecond, AuthApp.NewEmail(), Wrong));

        // A device cookie issued by one instance keeps its budget on the other while the account is attacked there.
        var email = AuthApp.NewEmail("shared");
        using var owner = app.From("127.0.4.2");
        await RegisterAsync(owner, email);
        var device = DeviceCookie(await LoginAsync(owner, email, Password));
        using var attacker = SourceAddressClient.Create(other.Client.BaseAddress!, "127.0.4.3");
        for (var i = 0; i < ThrottleAuthApp.FreeFailures; i++)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await LoginAsync(attacker, email, Wrong)).StatusCode);
        }
        using var ownerOnSecond = SourceAddressClient.Create(other.Client.BaseAddress!, "127.0.4.2");
        await AssertThrottledAsync(await LoginAsync(ownerOnSecond, email, Password));
        Assert.Equal(HttpStatusCode.OK, (await LoginAsync(ownerOnSecond, email, Password, device)).StatusCode);
    }

    [Fact]
    public void The_progressive_delay_is_free_then_doubles_then_caps()
    {
        TimeSpan Delay(long failures) => ProgressiveDelay.After(failures, 5, TimeSpan.FromSeconds(2), TimeSpan.FromMinutes(10));

        Assert.Equal(TimeSpan.Zero, Delay(0));
        Assert.Equal(TimeSpan.Zero, Delay(4));
        Assert.Equal(TimeSpan.FromSeconds(2), Delay(5));
        Assert.Equal(TimeSpan.FromSeconds(4), Delay(6));
        Assert.Equal(TimeSpan.FromSeconds(512), Delay(13));
        Assert.Equal(TimeSpan.FromMinutes(10), Delay(14));
        Assert.Equal(TimeSpan.FromMinutes(10), Delay(long.MaxValue));
        Assert.Equal(TimeSpan.FromMilliseconds(500), ProgressiveDelay.Remaining(5, 10_000, 11_500, 5, TimeSpan.FromSeconds(2), TimeSpan.FromMinutes(10)));
        Assert.Equal(TimeSpan.Zero, ProgressiveDelay.Remaining(5, 10_000, 12_000, 5, TimeSpan.FromSeconds(2), TimeSpan.FromMinutes(10)));
    }
}

/// <summary>Redis unreachable: sign-in and registration fail closed (503), the ceiling fails open.</summary>
public class ThrottleOutageTests
{
    [Fact]
    public async Task Without_Redis_login_and_registration_answer_503_with_Retry_After_and_other_routes_still_work()
    {
        await using var app = new ConfiguredAuthApp("throttle_outage", new() { ["ConnectionStrings:redis"] = "127.0.0.1:1,connectTimeout=200" });
        await ((IAsyncLifetime)app).InitializeAsync();
        var usersBefore = await app.WithDbAsync(db => db.Users.CountAsync());

        var login = await app.LoginAsync(AuthApp.NewEmail(), "zebra glacier 47 lantern");
        var register = await app.Client.PostAsJsonAsync("/auth/register", new { email = AuthApp.NewEmail(), password = "zebra glacier 47 lantern" });
        var policy = await app.Client.GetAsync("/auth/password-policy");

        foreach (var response in new[] { login, register })
        {
            await HttpAssert.IsProblemAsync(response, HttpStatusCode.ServiceUnavailable);
            Assert.NotNull(response.Headers.RetryAfter);
        }
        Assert.Equal(HttpStatusCode.OK, policy.StatusCode);
        Assert.Equal(usersBefore, await app.WithDbAsync(db => db.Users.CountAsync()));
        Assert.Empty(app.TokenService.TokenRequests);
    }
}

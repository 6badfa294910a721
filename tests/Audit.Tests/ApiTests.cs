using System.Net;
using System.Text.Json;
using SecurePlatform.Audit.Model;
using SecurePlatform.Contracts;
using SecurePlatform.TestSupport;

namespace SecurePlatform.Audit.Tests;

/// <summary>One audit-service with a small known log, published through the broker as a producer's outbox would, and
/// shared by the API tests (they only read). Its queue also gets the events other tests publish in this run's vhost,
/// so assertions look at Alice's, Bob's and Carol's rows.</summary>
public sealed class ApiFixture : IAsyncLifetime
{
    public AuditHost Host { get; } = new("api");

    public string Alice { get; } = "alice-" + Guid.NewGuid().ToString("N");

    public string Bob { get; } = "bob-" + Guid.NewGuid().ToString("N");

    public string Carol { get; } = Guid.CreateVersion7().ToString();

    /// <summary>An administrator's account id (account ids are UUIDs) and where the administrator works from.</summary>
    public string Admin { get; } = Guid.CreateVersion7().ToString();

    public const string AdminIp = "192.0.2.200";

    public const string AdminUserAgent = "AdminConsole/9.9";

    public List<AuditEvent> Rows { get; } = [];

    public async Task InitializeAsync()
    {
        await Host.StartAsync();
        var t0 = new DateTimeOffset(2026, 3, 1, 8, 0, 0, TimeSpan.Zero);
        IntegrationEvent[] events =
        [
            new LoginSucceeded { Subject = Alice, Actor = Alice, SourceService = "auth-service", IpAddress = "203.0.113.10", UserAgent = "Firefox", SessionId = "a1", OccurredAt = t0 },
            new LoginFailed { Subject = Alice, SourceService = "auth-service", IpAddress = "198.51.100.99", UserAgent = "curl", Reason = LoginFailureReasons.InvalidCredentials, OccurredAt = t0.AddMinutes(1) },
            new TokenRefreshed { Subject = Alice, Actor = Alice, SourceService = "token-service", SessionId = "a1", OccurredAt = t0.AddMinutes(2) },
            new PasswordChanged { Subject = Alice, Actor = Alice, SourceService = "auth-service", IpAddress = "203.0.113.10", OccurredAt = t0.AddMinutes(3) },
            new MfaEnabled { Subject = Alice, Actor = Alice, SourceService = "auth-service", OccurredAt = t0.AddMinutes(4) },
            new RoleGranted { Subject = Alice, Actor = Admin, SourceService = "auth-service", Role = "admin", OccurredAt = t0.AddMinutes(5) },
            new SessionRevoked { Subject = Alice, Actor = Alice, SourceService = "token-service", SessionId = "a0", Reason = RevocationReasons.UserRequest, OccurredAt = t0.AddMinutes(6) },
            new LoginSucceeded { Subject = Bob, Actor = Bob, SourceService = "auth-service", IpAddress = "192.0.2.1", SessionId = "b1", OccurredAt = t0.AddMinutes(7) },
            new ProfileUpdated { Subject = Bob, Actor = Bob, SourceService = "profile-service", Fields = ["displayName"], OccurredAt = t0.AddMinutes(8) },
            // Carol signs in, someone fails to sign in as her, her app's old refresh token is replayed, then an
            // administrator revokes all her sessions (token-service stamps the admin's request).
            new SessionCreated { Subject = Carol, Actor = Carol, SourceService = "token-service", IpAddress = "203.0.113.30", UserAgent = "Safari", SessionId = "c1", ClientId = "platform-app", OccurredAt = t0.AddMinutes(9) },
            new LoginFailed { Subject = Carol, SourceService = "auth-service", IpAddress = "198.51.100.66", UserAgent = "curl", Reason = LoginFailureReasons.InvalidCredentials, OccurredAt = t0.AddMinutes(10) },
            new RefreshTokenReuseDetected { Subject = Carol, Actor = "platform-app", SourceService = "token-service", IpAddress = "198.51.100.77", UserAgent = "python", SessionId = "c1", ClientId = "platform-app", OccurredAt = t0.AddMinutes(11) },
            new AllSessionsRevoked { Subject = Carol, Actor = Admin, SourceService = "token-service", IpAddress = AdminIp, UserAgent = AdminUserAgent, Count = 2, Reason = RevocationReasons.Admin, OccurredAt = t0.AddMinutes(12) },
        ];
        Rows.AddRange(events.Select(e => AuditEntryFactory.Create(e)));
        await Host.Bus.Publish(BatchIngestionTests.Batch(events));
        foreach (var subject in new[] { Alice, Bob, Carol })
        {
            await Host.WaitForCountAsync(subject, Rows.Count(r => r.Subject == subject));
        }
    }

    public async Task DisposeAsync() => await Host.DisposeAsync();
}

public class ApiTests(ApiFixture fixture) : IClassFixture<ApiFixture>
{
    private readonly AuditHost _host = fixture.Host;

    private static List<JsonElement> Items(JsonElement page) => page.GetProperty("items").EnumerateArray().ToList();

    [Theory]
    [InlineData("/audit/events")]
    [InlineData("/audit/events/00000000-0000-0000-0000-000000000001")]
    [InlineData("/audit/verify")]
    [InlineData("/audit/me")]
    public async Task Anonymous_callers_get_401(string path)
    {
        using var client = _host.ClientWithToken(null);
        var response = await client.GetAsync(path);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        HttpAssert.HasSecurityHeaders(response);
    }

    [Theory]
    [InlineData("/audit/events")]
    [InlineData("/audit/events/00000000-0000-0000-0000-000000000001")]
    [InlineData("/audit/verify")]
    public async Task Users_without_the_admin_role_get_403_on_admin_routes(string path)
    {
        using var client = _host.ClientWithToken(TestTokens.Issue(fixture.Alice, roles: ["user"]));
        Assert.Equal(HttpStatusCode.Forbidden, (await client.GetAsync(path)).StatusCode);
    }

    [Fact]
    public async Task A_forged_token_gets_401()
    {
        using var rsa = System.Security.Cryptography.RSA.Create(2048);
        var forged = TestTokens.Issue("admin-x", roles: ["admin"], credentials: new Microsoft.IdentityModel.Tokens.SigningCredentials(
            new Microsoft.IdentityModel.Tokens.RsaSecurityKey(rsa) { KeyId = TestTokens.Key.KeyId }, "RS256"));
        using var client = _host.ClientWithToken(forged);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/audit/events")).StatusCode);
    }

    [Theory]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=501", "limit")]
    [InlineData("limit=abc", "limit")]
    [InlineData("type=NoSuchEvent", "type")]
    [InlineData("type=LoginSucceeded&type=Bogus", "type")]
    [InlineData("from=yesterday", "from")]
    [InlineData("to=2026-02-30", "to")]
    [InlineData("from=2026-03-02&to=2026-03-01", "to")]
    [InlineData("cursor=AAAA", "cursor")]
    [InlineData("userId=", "userId")]
    public async Task Bad_filters_get_a_400_problem_naming_the_field(string queryString, string field)
    {
        using var client = _host.AdminClient();
        var response = await client.GetAsync("/audit/events?" + queryString);
        var problem = await HttpAssert.IsProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
        Assert.NotEmpty(problem.GetProperty("rules").GetProperty(field).EnumerateArray()); // the platform's one shape
    }

    [Theory]
    [InlineData("userId=%FF", "userId")]
    [InlineData("userId=abc%C3", "userId")]                // a two-byte character cut short
    [InlineData("userId=%ED%A0%80", "userId")]             // an encoded surrogate half
    [InlineData("limit=5&type=Login%E2%82", "type")]
    public async Task A_query_value_that_is_not_UTF8_is_a_400_naming_the_parameter_not_a_search_for_U_FFFD(string queryString, string field)
    {
        using var client = _host.AdminClient();

        var response = await client.GetAsync("/audit/events?" + queryString);

        var problem = await HttpAssert.IsProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal([field], problem.GetProperty("errors").EnumerateObject().Select(p => p.Name));
        Assert.Equal(["utf8"], problem.GetProperty("rules").GetProperty(field).EnumerateArray().Select(r => r.GetString()));
    }

    [Theory]
    [InlineData("userId=%C3%A9")]        // é
    [InlineData("userId=%EF%BF%BD")]     // U+FFFD itself, sent as UTF-8
    [InlineData("userId=a%G1b")]         // not an escape: literal text
    public async Task A_UTF8_query_value_is_accepted(string queryString)
    {
        using var client = _host.AdminClient();

        var page = await HttpAssert.OkJsonAsync<JsonElement>(await client.GetAsync("/audit/events?" + queryString));

        Assert.Empty(page.GetProperty("items").EnumerateArray());
    }

    [Theory]
    [InlineData("application/json; charset=bogus", HttpStatusCode.UnsupportedMediaType)]
    [InlineData("application/json; charset=utf-7", HttpStatusCode.UnsupportedMediaType)]
    [InlineData("not a media type; ;", HttpStatusCode.BadRequest)]
    public async Task A_request_naming_another_charset_is_refused_as_on_every_service(string contentType, HttpStatusCode status)
    {
        using var client = _host.ClientWithToken(TestTokens.Issue(fixture.Alice));
        using var request = new HttpRequestMessage(HttpMethod.Get, "/audit/me") { Content = new ByteArrayContent("{}"u8.ToArray()) };
        request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);

        await HttpAssert.IsProblemAsync(await client.SendAsync(request), status);
    }

    [Theory]
    [InlineData("/audit/events/not-a-guid", "id")]
    [InlineData("/audit/verify?from=0", "from")]
    [InlineData("/audit/verify?from=5&to=2", "to")]
    [InlineData("/audit/me?limit=101", "limit")]
    [InlineData("/audit/me?cursor=zzz", "cursor")]
    public async Task Bad_parameters_elsewhere_get_a_400_problem_naming_the_field(string path, string field)
    {
        using var client = path.StartsWith("/audit/me", StringComparison.Ordinal) ? _host.ClientWithToken(TestTokens.Issue(fixture.Alice)) : _host.AdminClient();
        var problem = await HttpAssert.IsProblemAsync(await client.GetAsync(path), HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
    }

    [Fact]
    public async Task An_unknown_event_id_is_a_404_problem()
    {
        using var client = _host.AdminClient();
        await HttpAssert.IsProblemAsync(await client.GetAsync($"/audit/events/{Guid.NewGuid()}"), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task An_event_is_found_by_its_id_with_its_envelope_and_payload()
    {
        using var client = _host.AdminClient();
        var row = fixture.Rows[5];
        var body = await HttpAssert.OkJsonAsync<JsonElement>(await client.GetAsync($"/audit/events/{row.EventId}"));
        Assert.Equal("RoleGranted", body.GetProperty("type").GetString());
        Assert.Equal(fixture.Admin, body.GetProperty("actor").GetString());
        Assert.Equal(fixture.Alice, body.GetProperty("subject").GetString());
        Assert.Equal("admin", body.GetProperty("payload").GetProperty("role").GetString());
        Assert.Equal(64, body.GetProperty("hash").GetString()!.Length);
    }

    [Fact]
    public async Task Filters_by_user_type_and_time_newest_first()
    {
        using var client = _host.AdminClient();
        var alice = Items(await HttpAssert.OkJsonAsync<JsonElement>(await client.GetAsync($"/audit/events?userId={fixture.Alice}")));
        Assert.Equal(7, alice.Count);
        Assert.All(alice, e => Assert.Equal(fixture.Alice, e.GetProperty("subject").GetString()));
        Assert.Equal("SessionRevoked", alice[0].GetProperty("type").GetString());

        var logins = Items(await HttpAssert.OkJsonAsync<JsonElement>(await client.GetAsync($"/audit/events?userId={fixture.Alice}&type=LoginSucceeded&type=LoginFailed")));
        Assert.Equal(["LoginFailed", "LoginSucceeded"], logins.Select(e => e.GetProperty("type").GetString()));

        var window = Items(await HttpAssert.OkJsonAsync<JsonElement>(await client.GetAsync(
            $"/audit/events?userId={fixture.Alice}&from=2026-03-01T08:02:00Z&to=2026-03-01T08:04:00%2B00:00")));
        Assert.Equal(["MfaEnabled", "PasswordChanged", "TokenRefreshed"], window.Select(e => e.GetProperty("type").GetString()));
    }

    [Fact]
    public async Task The_cursor_walks_every_row_once()
    {
        using var client = _host.AdminClient();
        var seen = new List<long>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var page = await HttpAssert.OkJsonAsync<JsonElement>(await client.GetAsync($"/audit/events?userId={fixture.Alice}&limit=2" + (cursor is null ? "" : "&cursor=" + cursor)));
            seen.AddRange(Items(page).Select(e => e.GetProperty("sequence").GetInt64()));
            cursor = page.GetProperty("nextCursor").GetString();
            pages++;
        }
        while (cursor is not null && pages < 20);
        Assert.Equal(fixture.Rows.Count(r => r.Subject == fixture.Alice), seen.Count);
        Assert.Equal(seen.OrderDescending(), seen);
        Assert.Equal(seen.Count, seen.Distinct().Count());
    }

    [Fact]
    public async Task Me_shows_the_callers_own_security_activity_only()
    {
        using var client = _host.ClientWithToken(TestTokens.Issue(fixture.Alice));
        var response = await client.GetAsync("/audit/me");
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
        var items = Items(await HttpAssert.OkJsonAsync<JsonElement>(response));

        // Sign-ins (with IP and user agent), the failed attempt, password and MFA changes, the role change, the revoked session.
        Assert.Equal(["SessionRevoked", "RoleGranted", "MfaEnabled", "PasswordChanged", "LoginFailed", "LoginSucceeded"],
            items.Select(e => e.GetProperty("type").GetString()));
        var signIn = items[^1];
        Assert.Equal("203.0.113.10", signIn.GetProperty("ipAddress").GetString());
        Assert.Equal("Firefox", signIn.GetProperty("userAgent").GetString());
        Assert.Equal(new DateTimeOffset(2026, 3, 1, 8, 0, 0, TimeSpan.Zero), signIn.GetProperty("occurredAt").GetDateTimeOffset());
        Assert.True(signIn.GetProperty("byYou").GetBoolean());
        Assert.False(items[1].GetProperty("byYou").GetBoolean()); // the admin granted the role
        Assert.DoesNotContain(items, e => e.TryGetProperty("actor", out _) || e.TryGetProperty("correlationId", out _));

        using var bob = _host.ClientWithToken(TestTokens.Issue(fixture.Bob));
        var bobs = Items(await HttpAssert.OkJsonAsync<JsonElement>(await bob.GetAsync("/audit/me")));
        Assert.Equal(["LoginSucceeded"], bobs.Select(e => e.GetProperty("type").GetString()));
    }

    [Fact]
    public async Task Me_names_who_acted_by_role_and_shows_network_data_only_of_the_users_own_actions()
    {
        using var client = _host.ClientWithToken(TestTokens.Issue(fixture.Carol));
        var response = await client.GetAsync("/audit/me");
        var body = await response.Content.ReadAsStringAsync();
        var items = Items(await HttpAssert.OkJsonAsync<JsonElement>(response)).ToDictionary(e => e.GetProperty("type").GetString()!);

        Assert.Equal(["AllSessionsRevoked", "LoginFailed", "RefreshTokenReuseDetected", "SessionCreated"], items.Keys.Order(StringComparer.Ordinal));
        Assert.DoesNotContain(ApiFixture.AdminIp, body, StringComparison.Ordinal);
        Assert.DoesNotContain(ApiFixture.AdminUserAgent, body, StringComparison.Ordinal);
        Assert.DoesNotContain(fixture.Admin, body, StringComparison.Ordinal);
        (string Role, bool ByYou, string? Ip, string? UserAgent) Seen(string type) => (
            items[type].GetProperty("actorRole").GetString()!, items[type].GetProperty("byYou").GetBoolean(),
            items[type].GetProperty("ipAddress").GetString(), items[type].GetProperty("userAgent").GetString());

        Assert.Equal(("you", true, "203.0.113.30", "Safari"), Seen("SessionCreated"));
        Assert.Equal(("an administrator", false, null, null), Seen("AllSessionsRevoked"));
        Assert.Equal(("the system", false, null, null), Seen("RefreshTokenReuseDetected"));
        Assert.Equal(("someone", false, null, null), Seen("LoginFailed"));

        // The administrator's view keeps the whole envelope.
        var admin = Items(await HttpAssert.OkJsonAsync<JsonElement>(await _host.AdminClient().GetAsync($"/audit/events?userId={fixture.Carol}&type=AllSessionsRevoked")));
        Assert.Equal(ApiFixture.AdminIp, Assert.Single(admin).GetProperty("ipAddress").GetString());
    }

    [Fact]
    public async Task Me_pages_with_a_cursor()
    {
        using var client = _host.ClientWithToken(TestTokens.Issue(fixture.Alice));
        var first = await HttpAssert.OkJsonAsync<JsonElement>(await client.GetAsync("/audit/me?limit=4"));
        Assert.Equal(4, Items(first).Count);
        var second = await HttpAssert.OkJsonAsync<JsonElement>(await client.GetAsync("/audit/me?limit=4&cursor=" + first.GetProperty("nextCursor").GetString()));
        Assert.Equal(["LoginFailed", "LoginSucceeded"], Items(second).Select(e => e.GetProperty("type").GetString()));
        Assert.Equal(JsonValueKind.Null, second.GetProperty("nextCursor").ValueKind);
    }

    [Fact]
    public async Task Verify_reports_rows_and_duration()
    {
        using var client = _host.AdminClient();
        var report = await HttpAssert.OkJsonAsync<JsonElement>(await client.GetAsync("/audit/verify"));
        Assert.True(report.GetProperty("verified").GetBoolean());
        // Events other tests publish in this run's vhost reach this host's queue too, so there may be more rows.
        Assert.True(report.GetProperty("rows").GetInt64() >= fixture.Rows.Count, report.ToString());
        Assert.Equal(report.GetProperty("toSequence").GetInt64(), report.GetProperty("rows").GetInt64());
        Assert.True(report.GetProperty("elapsedMs").GetInt64() >= 0);
        var range = await HttpAssert.OkJsonAsync<JsonElement>(await client.GetAsync("/audit/verify?from=3&to=5"));
        Assert.Equal(3, range.GetProperty("rows").GetInt64());
    }
}

using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using SecurePlatform.Auth.Apis;
using SecurePlatform.Auth.Infrastructure;
using SecurePlatform.Auth.Model;
using SecurePlatform.Contracts;
using SecurePlatform.TestSupport;

namespace SecurePlatform.Auth.Tests;

public class LoginTests(AuthApp app) : IClassFixture<AuthApp>, IAsyncLifetime
{
    private const string Password = "zebra glacier 47 lantern";

    public Task InitializeAsync()
    {
        app.TokenService.Reset();
        return Task.CompletedTask;
    }

    public Task DisposeAsync() => Task.CompletedTask;

    private async Task<(string Email, string Id)> NewAccountAsync(bool disabled = false)
    {
        var email = AuthApp.NewEmail();
        var id = await app.RegisterAsync(email, Password);
        if (disabled)
        {
            await app.WithDbAsync(db => db.Users.Where(u => u.Id == id).ExecuteUpdateAsync(u => u.SetProperty(x => x.DisabledAt, DateTimeOffset.UtcNow)));
        }
        return (email, id);
    }

    /// <summary>The body with its per-request trace id removed (everything else must be identical).</summary>
    private static async Task<string> BodyWithoutTraceIdAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        var traceId = JsonSerializer.Deserialize<JsonElement>(body).GetProperty("traceId").GetString()!;
        return body.Replace(traceId, "<trace>", StringComparison.Ordinal);
    }

    private static List<string> HeaderNames(HttpResponseMessage response) =>
        [.. response.Headers.Select(h => h.Key).Concat(response.Content.Headers.Select(h => h.Key)).Where(h => h != "Date").Order()];

    [Fact]
    public async Task Unknown_email_wrong_password_and_disabled_account_get_the_same_status_body_and_headers()
    {
        var (known, knownId) = await NewAccountAsync();
        var (disabled, disabledId) = await NewAccountAsync(disabled: true);
        var failuresBefore = (await app.EventsAsync("LoginFailed")).Count;

        var unknown = await app.LoginAsync(AuthApp.NewEmail(), Password);
        var wrong = await app.LoginAsync(known, Password + "!");
        var off = await app.LoginAsync(disabled, Password); // the right password of a disabled account
        var malformed = await app.LoginAsync("not-an-address", Password);

        // Header names first: reading HttpContentHeaders.ContentLength would add a computed header client-side.
        var expectedHeaders = HeaderNames(unknown);
        var reference = await HttpAssert.IsProblemAsync(unknown, HttpStatusCode.Unauthorized);
        Assert.Equal(SessionApi.InvalidCredentialsTitle, reference.GetProperty("title").GetString());
        var expectedBody = await BodyWithoutTraceIdAsync(unknown);
        foreach (var response in new[] { wrong, off, malformed })
        {
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal(expectedHeaders, HeaderNames(response));
            Assert.Equal(expectedBody, await BodyWithoutTraceIdAsync(response)); // same length too: trace ids are fixed-width
            Assert.Equal(unknown.Content.Headers.ContentType, response.Content.Headers.ContentType);
            Assert.False(response.Headers.Contains("Set-Cookie"));
            HttpAssert.HasSecurityHeaders(response);
        }
        Assert.Empty(app.TokenService.TokenRequests);

        // Audit gets the reason category, the IP and the account when there is one; never the password.
        var failures = (await app.EventsAsync("LoginFailed")).Skip(failuresBefore).Select(m => (Message: m, Event: JsonSerializer.Deserialize<LoginFailed>(m.Payload, JsonSerializerOptions.Web)!)).ToList();
        Assert.Equal(4, failures.Count);
        Assert.Equal(
            new (string, string?)[] { (LoginFailureReasons.UnknownAccount, null), (LoginFailureReasons.InvalidCredentials, knownId), (LoginFailureReasons.AccountDisabled, disabledId), (LoginFailureReasons.UnknownAccount, null) },
            failures.Select(f => (f.Event.Reason, f.Event.Subject)));
        Assert.All(failures, f =>
        {
            Assert.Equal("127.0.0.1", f.Event.IpAddress);
            Assert.Equal("auth-service", f.Event.SourceService);
            Assert.DoesNotContain("glacier", f.Message.Payload, StringComparison.OrdinalIgnoreCase);
        });
    }

    [Theory]
    [InlineData("""{"password":"zebra glacier 47 lantern"}""", "email")]
    [InlineData("""{"email":"a@example.org"}""", "password")]
    [InlineData("""{"email":"a@example.org","password":"zebra glacier 47 lantern","clientId":"bad client!"}""", "clientId")]
    [InlineData("""{"email":"a@example.org","password":"zebra glacier 47 lantern","remember":true}""", "remember")]
    [InlineData("""{"Email":"a@example.org","password":"zebra glacier 47 lantern"}""", "Email")]
    [InlineData("""{"email":"a@example.org","password":"zebra glacier 47 lantern","password":"other"}""", "password")]
    public async Task A_malformed_login_request_is_a_400_problem_naming_the_field(string body, string field)
    {
        var failedBefore = (await app.EventsAsync("LoginFailed")).Count;

        var response = await app.Client.PostAsync("/auth/login", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        var problem = await HttpAssert.IsProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
        Assert.True(problem.GetProperty("rules").TryGetProperty(field, out _), problem.ToString());
        Assert.Empty(app.TokenService.TokenRequests);
        Assert.Equal(failedBefore, (await app.EventsAsync("LoginFailed")).Count);
    }

    [Theory]
    [InlineData("application/json; charset=bogus")]
    [InlineData("application/json; charset=iso-8859-1")]
    public async Task A_login_in_another_charset_is_a_415_problem_and_no_sign_in_is_tried(string contentType)
    {
        var (email, _) = await NewAccountAsync();
        var failedBefore = (await app.EventsAsync("LoginFailed")).Count;
        using var content = new ByteArrayContent(System.Text.Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new { email, password = Password })));
        content.Headers.TryAddWithoutValidation("Content-Type", contentType);

        var response = await app.Client.PostAsync("/auth/login", content);

        await HttpAssert.IsProblemAsync(response, HttpStatusCode.UnsupportedMediaType);
        Assert.Empty(app.TokenService.TokenRequests);
        Assert.Equal(failedBefore, (await app.EventsAsync("LoginFailed")).Count);
    }

    [Fact]
    public async Task A_successful_login_asks_token_service_with_the_contract_fields_and_relays_its_response()
    {
        var (email, id) = await NewAccountAsync();
        var userAgent = "TestAgent/1.0 " + new string('u', 600);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/auth/login") { Content = JsonContent.Create(new { email = email.ToUpperInvariant(), password = Password }) };
        request.Headers.TryAddWithoutValidation("User-Agent", userAgent);
        var succeededBefore = (await app.EventsAsync("LoginSucceeded")).Count;

        var response = await app.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var issued = Assert.Single(app.TokenService.IssuedTokens);
        Assert.Equal(issued.ResponseJson, await response.Content.ReadAsStringAsync()); // byte for byte
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
        Assert.Equal("no-cache", response.Headers.Pragma.ToString());
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        // Only the device cookie (no refresh cookie without useCookie): HttpOnly, Secure, Strict, scoped to /auth.
        var device = Assert.Single(response.Headers.GetValues("Set-Cookie")).Split(';', StringSplitOptions.TrimEntries);
        Assert.StartsWith("__Secure-sp_device=", device[0], StringComparison.Ordinal);
        Assert.Superset(new HashSet<string> { "path=/auth", "secure", "httponly", "samesite=strict" }, device.Skip(1).Select(p => p.ToLowerInvariant()).ToHashSet());
        HttpAssert.HasSecurityHeaders(response);

        var sent = Assert.Single(app.TokenService.TokenRequests);
        Assert.StartsWith("application/x-www-form-urlencoded", sent.ContentType);
        Assert.Equal(new Dictionary<string, string>
        {
            ["grant_type"] = "urn:secureplatform:grant-type:sign-in",
            ["client_id"] = "auth-service",
            ["client_secret"] = AuthApp.ClientSecret,
            ["subject"] = id,
            ["amr"] = "pwd",
            ["roles"] = "user",
            ["target_client_id"] = "platform-app",
            ["client_ip"] = "127.0.0.1",
            ["user_agent"] = userAgent[..512],
            ["scope"] = "openid offline_access",
        }, sent.Form.OrderBy(kv => kv.Key).ToDictionary());

        var succeeded = (await app.EventsAsync("LoginSucceeded")).Skip(succeededBefore).ToList();
        var message = Assert.Single(succeeded);
        var evt = JsonSerializer.Deserialize<LoginSucceeded>(message.Payload, JsonSerializerOptions.Web)!;
        Assert.Equal(issued.Sid, evt.SessionId);
        Assert.Equal("platform-app", evt.ClientId);
        Assert.Equal(new[] { "pwd" }, evt.Amr);
        Assert.Equal(id, evt.Subject);
        Assert.Equal(id, evt.Actor);
        Assert.Equal(userAgent[..512], evt.UserAgent);
        Assert.DoesNotContain(issued.AccessToken, message.Payload, StringComparison.Ordinal);
        Assert.DoesNotContain(issued.RefreshToken, message.Payload, StringComparison.Ordinal);
        Assert.DoesNotContain("glacier", message.Payload, StringComparison.Ordinal);

        var user = await app.WithUsersAsync(async users => (await users.FindByIdAsync(id))!);
        Assert.NotNull(user.LastLoginAt);
        Assert.True(DateTimeOffset.UtcNow - user.LastLoginAt < TimeSpan.FromMinutes(1));
    }

    [Fact]
    public async Task A_login_may_name_another_first_party_client()
    {
        var (email, _) = await NewAccountAsync();

        var response = await app.LoginAsync(email, Password, new { clientId = "admin-console" });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("admin-console", Assert.Single(app.TokenService.TokenRequests).Form["target_client_id"]);
    }

    [Fact]
    public async Task Browser_mode_puts_the_refresh_token_in_a_secure_cookie_scoped_to_the_token_endpoint()
    {
        var (email, _) = await NewAccountAsync();

        var response = await app.LoginAsync(email, Password, new { useCookie = true });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var issued = Assert.Single(app.TokenService.IssuedTokens);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.False(body.TryGetProperty("refresh_token", out _));
        Assert.Equal(issued.AccessToken, body.GetProperty("access_token").GetString());
        Assert.Equal(900, body.GetProperty("expires_in").GetInt32());
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());

        var cookie = Assert.Single(response.Headers.GetValues("Set-Cookie"), c => c.StartsWith("__Secure-sp_rt=", StringComparison.Ordinal));
        var parts = cookie.Split(';', StringSplitOptions.TrimEntries);
        Assert.Equal($"__Secure-sp_rt={issued.RefreshToken}", parts[0]);
        var attributes = parts.Skip(1).Select(p => p.ToLowerInvariant()).ToHashSet();
        // token-service's cookie, relayed: its Max-Age is the refresh token's lifetime, not a second rule here.
        Assert.Superset(new HashSet<string> { "path=/connect/token", "secure", "httponly", "samesite=strict", $"max-age={(int)FakeTokenService.CookieLifetime.TotalSeconds}" }, attributes);
        Assert.Equal("cookie", Assert.Single(app.TokenService.TokenRequests).Form["refresh_token_delivery"]);
        Assert.DoesNotContain(attributes, a => a.StartsWith("domain=", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_refusal_by_token_service_is_a_400_problem_and_no_session_event()
    {
        var (email, _) = await NewAccountAsync();
        app.TokenService.TokenOverride = (400, """{"error":"invalid_request","error_description":"The target client is unknown (internal detail)."}""");
        var succeededBefore = (await app.EventsAsync("LoginSucceeded")).Count;

        var response = await app.LoginAsync(email, Password, new { clientId = "no-such-client" });

        var problem = await HttpAssert.IsProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal("invalid_request", problem.GetProperty("error").GetString());
        Assert.DoesNotContain("internal detail", problem.ToString());
        Assert.Equal(succeededBefore, (await app.EventsAsync("LoginSucceeded")).Count);
    }

    [Theory]
    [InlineData(503)]
    [InlineData(500)]
    [InlineData(401)] // our own client credentials refused: an operator problem, not the caller's
    public async Task A_failing_token_service_is_a_generic_503_and_the_sign_in_post_is_not_retried(int status)
    {
        var (email, _) = await NewAccountAsync();
        app.TokenService.TokenOverride = (status, """{"error":"server_error"}""");

        var response = await app.LoginAsync(email, Password);

        var problem = await HttpAssert.IsProblemAsync(response, HttpStatusCode.ServiceUnavailable);
        Assert.DoesNotContain("server_error", problem.ToString());
        Assert.Single(app.TokenService.TokenRequests); // a POST opens a session: never sent twice
    }

    [Fact]
    public async Task An_unreachable_token_service_is_a_generic_503()
    {
        var (email, _) = await NewAccountAsync();
        var down = new AuthAppWithUnreachableTokenService();
        await ((IAsyncLifetime)down).InitializeAsync();
        await down.RegisterAsync(email, Password);

        var response = await down.LoginAsync(email, Password);

        await HttpAssert.IsProblemAsync(response, HttpStatusCode.ServiceUnavailable);
        await ((IAsyncLifetime)down).DisposeAsync();
    }

    [Theory]
    [InlineData(1, 8 * 1024)]
    [InlineData(2, 19 * 1024)] // the default before m=7 MiB t=5: as strong, re-hashed to the cheaper configuration
    public async Task A_hash_with_old_parameters_is_replaced_at_the_next_successful_login_and_not_by_a_wrong_password(int t, int m)
    {
        var (email, id) = await NewAccountAsync();
        var oldHash = new Argon2idPasswordHasher(new Argon2Parameters(t, m, 1)).HashPassword(new User(), Password);
        await app.WithDbAsync(db => db.Users.Where(u => u.Id == id).ExecuteUpdateAsync(u => u.SetProperty(x => x.PasswordHash, oldHash)));
        Task<string?> StoredAsync() => app.WithDbAsync(db => db.Users.Where(u => u.Id == id).Select(u => u.PasswordHash).SingleAsync());

        Assert.Equal(HttpStatusCode.Unauthorized, (await app.LoginAsync(email, Password + "x")).StatusCode);
        Assert.Equal(oldHash, await StoredAsync());

        var response = await app.LoginAsync(email, Password);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var stored = await StoredAsync();
        Assert.NotEqual(oldHash, stored);
        Assert.StartsWith("$sp1$argon2id$v=19$m=7168,t=5,p=1$", stored);
        Assert.Equal(HttpStatusCode.OK, (await app.LoginAsync(email, Password)).StatusCode);
        Assert.Equal(stored, await StoredAsync()); // re-hashed once, not at every sign-in
    }
}

/// <summary>auth-service whose token-service address answers nothing (a port nobody listens on).</summary>
public sealed class AuthAppWithUnreachableTokenService() : AuthApp("down", new Dictionary<string, string?>
{
    ["services:token-service:http:0"] = $"http://127.0.0.1:{ServiceProcess.FreePort()}",
});

using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Identity;
using SecurePlatform.Auth.Model;
using SecurePlatform.Contracts;
using SecurePlatform.TestSupport;

namespace SecurePlatform.Auth.Tests;

/// <summary>Logout and password change: the caller's own bearer token, forwarded to token-service.</summary>
public class SessionTests(AuthApp app) : IClassFixture<AuthApp>, IAsyncLifetime
{
    private const string Password = "zebra glacier 47 lantern";
    private const string NewPassword = "violet kettle 12 harbour";

    public Task InitializeAsync()
    {
        app.TokenService.Reset();
        return Task.CompletedTask;
    }

    public Task DisposeAsync() => Task.CompletedTask;

    /// <summary>Registers and signs in; returns the account and the session token-service opened.</summary>
    private async Task<(string Email, string Id, FakeTokenService.Issued Session)> SignedInAsync()
    {
        var email = AuthApp.NewEmail();
        var id = await app.RegisterAsync(email, Password);
        var login = await app.LoginAsync(email, Password);
        Assert.Equal(HttpStatusCode.OK, login.StatusCode);
        var session = app.TokenService.IssuedTokens.Last();
        app.TokenService.Reset();
        return (email, id, session);
    }

    private Task<HttpResponseMessage> PostAsync(string path, string accessToken, object? body = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = body is null ? null : JsonContent.Create(body) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        return app.Client.SendAsync(request);
    }

    [Fact]
    public async Task Logout_revokes_the_callers_session_at_token_service_and_clears_the_browser()
    {
        var (_, id, session) = await SignedInAsync();
        var before = (await app.EventsAsync("LoggedOut")).Count;

        var response = await PostAsync("/auth/logout", session.AccessToken);

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal("\"cache\",\"cookies\",\"storage\"", string.Join(",", response.Headers.GetValues("Clear-Site-Data")));
        var cookie = Assert.Single(response.Headers.GetValues("Set-Cookie"));
        var parts = cookie.Split(';', StringSplitOptions.TrimEntries);
        Assert.Equal("__Secure-sp_rt=", parts[0]);
        Assert.Superset(new HashSet<string> { "path=/connect/token", "secure", "httponly", "samesite=strict", "max-age=0" }, parts.Skip(1).Select(p => p.ToLowerInvariant()).ToHashSet());
        HttpAssert.HasSecurityHeaders(response);

        var revoked = Assert.Single(app.TokenService.SessionRequests);
        Assert.Equal($"/sessions/{session.Sid}", revoked.Path);
        Assert.Equal($"Bearer {session.AccessToken}", revoked.Authorization);

        var loggedOut = (await app.EventsAsync("LoggedOut")).Skip(before).Single();
        var evt = JsonSerializer.Deserialize<LoggedOut>(loggedOut.Payload, JsonSerializerOptions.Web)!;
        Assert.Equal(session.Sid, evt.SessionId);
        Assert.Equal(id, evt.Subject);
        Assert.Equal(id, evt.Actor);
        Assert.DoesNotContain(session.AccessToken, loggedOut.Payload, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Logout_without_a_valid_token_is_401_and_reaches_nobody()
    {
        var forged = TestTokens.Issue("someone", audience: "another-api");

        var none = await app.Client.PostAsync("/auth/logout", null);
        var wrongAudience = await PostAsync("/auth/logout", forged);

        Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, wrongAudience.StatusCode);
        Assert.Empty(app.TokenService.SessionRequests);
    }

    [Fact]
    public async Task Logout_while_token_service_fails_is_a_503_and_records_no_logout()
    {
        var (_, _, session) = await SignedInAsync();
        app.TokenService.SessionStatus = 500;
        var before = (await app.EventsAsync("LoggedOut")).Count;

        var response = await PostAsync("/auth/logout", session.AccessToken);

        await HttpAssert.IsProblemAsync(response, HttpStatusCode.ServiceUnavailable);
        Assert.False(response.Headers.Contains("Clear-Site-Data"));
        Assert.Equal(before, (await app.EventsAsync("LoggedOut")).Count);
    }

    [Fact]
    public async Task A_wrong_current_password_changes_nothing()
    {
        var (email, id, session) = await SignedInAsync();
        var hashBefore = await app.WithUsersAsync(async users => (await users.FindByIdAsync(id))!.PasswordHash);
        var before = (await app.EventsAsync("PasswordChanged")).Count;

        var response = await PostAsync("/auth/password/change", session.AccessToken, new { currentPassword = "not the password 1", newPassword = NewPassword });

        var problem = await HttpAssert.IsProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty("currentPassword", out _));
        Assert.Equal(hashBefore, await app.WithUsersAsync(async users => (await users.FindByIdAsync(id))!.PasswordHash));
        Assert.Equal(before, (await app.EventsAsync("PasswordChanged")).Count);
        Assert.Empty(app.TokenService.SessionRequests);
        Assert.Equal(HttpStatusCode.OK, (await app.LoginAsync(email, Password)).StatusCode);
    }

    [Theory]
    [InlineData("password1234", "common")]
    [InlineData("too short", "minLength")]
    [InlineData(Password, "reused")]
    public async Task A_new_password_that_breaks_the_policy_changes_nothing(string newPassword, string rule)
    {
        var (_, id, session) = await SignedInAsync();
        var hashBefore = await app.WithUsersAsync(async users => (await users.FindByIdAsync(id))!.PasswordHash);

        var response = await PostAsync("/auth/password/change", session.AccessToken, new { currentPassword = Password, newPassword });

        var problem = await HttpAssert.IsProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains(rule, problem.GetProperty("rules").GetProperty("newPassword").EnumerateArray().Select(r => r.GetString()));
        Assert.Equal(hashBefore, await app.WithUsersAsync(async users => (await users.FindByIdAsync(id))!.PasswordHash));
        Assert.Empty(app.TokenService.SessionRequests);
    }

    [Fact]
    public async Task A_password_change_stores_the_new_hash_records_the_event_and_ends_the_other_sessions()
    {
        var (email, id, session) = await SignedInAsync();
        var before = (await app.EventsAsync("PasswordChanged")).Count;

        var response = await PostAsync("/auth/password/change", session.AccessToken, new { currentPassword = Password, newPassword = NewPassword });

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        var revoked = Assert.Single(app.TokenService.SessionRequests);
        Assert.Equal("/sessions", revoked.Path);
        Assert.Equal($"Bearer {session.AccessToken}", revoked.Authorization);

        var changed = (await app.EventsAsync("PasswordChanged")).Skip(before).Single();
        var evt = JsonSerializer.Deserialize<PasswordChanged>(changed.Payload, JsonSerializerOptions.Web)!;
        Assert.Equal(session.Sid, evt.KeptSessionId);
        Assert.Equal(id, evt.Subject);
        Assert.DoesNotContain("kettle", changed.Payload, StringComparison.Ordinal);
        Assert.DoesNotContain("glacier", changed.Payload, StringComparison.Ordinal);

        var user = await app.WithUsersAsync(async users => (await users.FindByIdAsync(id))!);
        Assert.Equal(PasswordVerificationResult.Success, new Infrastructure.Argon2idPasswordHasher(Argon2Parameters.Default).VerifyHashedPassword(user, user.PasswordHash!, NewPassword));
        Assert.Equal(HttpStatusCode.Unauthorized, (await app.LoginAsync(email, Password)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await app.LoginAsync(email, NewPassword)).StatusCode);
    }

    [Fact]
    public async Task Password_change_requires_a_token()
    {
        var response = await app.Client.PostAsJsonAsync("/auth/password/change", new { currentPassword = Password, newPassword = NewPassword });

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Theory]
    [InlineData(11 * 60)] // older than the default 10-minute window
    [InlineData(null)]    // no auth_time at all (e.g. a token minted before the claim existed)
    public async Task A_password_change_from_an_old_sign_in_asks_to_sign_in_again_and_changes_nothing(int? secondsAgo)
    {
        var (email, id, session) = await SignedInAsync();
        var hashBefore = await app.WithUsersAsync(async users => (await users.FindByIdAsync(id))!.PasswordHash);
        var before = (await app.EventsAsync("PasswordChanged")).Count;
        // The same session, but its sign-in was long ago (or is unknown).
        var stale = TestTokens.Issue(id, session.Sid, claims: new Dictionary<string, object?>
        {
            ["auth_time"] = secondsAgo is { } s ? DateTimeOffset.UtcNow.AddSeconds(-s).ToUnixTimeSeconds() : null,
        });

        var response = await PostAsync("/auth/password/change", stale, new { currentPassword = Password, newPassword = NewPassword });

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        var challenge = string.Join(",", response.Headers.WwwAuthenticate.Select(h => h.ToString()));
        Assert.Contains("error=\"insufficient_user_authentication\"", challenge, StringComparison.Ordinal);
        Assert.Contains("max_age=\"600\"", challenge, StringComparison.Ordinal);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("insufficient_user_authentication", problem.RootElement.GetProperty("error").GetString());
        Assert.Equal(600, problem.RootElement.GetProperty("max_age").GetInt64());

        // Nothing changed: same hash, no event, no session ended, the old password still signs in.
        Assert.Equal(hashBefore, await app.WithUsersAsync(async users => (await users.FindByIdAsync(id))!.PasswordHash));
        Assert.Equal(before, (await app.EventsAsync("PasswordChanged")).Count);
        Assert.Empty(app.TokenService.SessionRequests);
        Assert.Equal(HttpStatusCode.OK, (await app.LoginAsync(email, Password)).StatusCode);
    }

    [Fact]
    public async Task A_password_change_with_an_auth_time_in_the_future_is_refused()
    {
        var (email, id, session) = await SignedInAsync();
        var forged = TestTokens.Issue(id, session.Sid, claims: new Dictionary<string, object?> { ["auth_time"] = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds() });

        var response = await PostAsync("/auth/password/change", forged, new { currentPassword = Password, newPassword = NewPassword });

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await app.LoginAsync(email, Password)).StatusCode);
    }
}

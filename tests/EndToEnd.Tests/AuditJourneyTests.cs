using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using SecurePlatform.TestSupport;

namespace SecurePlatform.EndToEnd.Tests;

[Collection(PlatformCollection.Name)]
public class AuditJourneyTests(PlatformFixture fixture)
{
    private Platform P => fixture.Platform;

    [Fact]
    public async Task A_sign_in_journey_leaves_each_expected_event_once_with_actor_ip_and_order_and_the_chain_verifies()
    {
        var user = User.New(P);
        await user.RegisterAsync();
        var failed = await User.Http(P.Auth).PostAsJsonAsync("/auth/login", new { email = user.Email, password = "wrong-" + user.Password });
        Assert.Equal(HttpStatusCode.Unauthorized, failed.StatusCode);
        var tokens = await user.LoginAsync("audit-journey/1.0");
        var refreshed = await User.Http(P.Token).PostAsync("/connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token", ["client_id"] = "platform-app", ["refresh_token"] = tokens.Refresh,
        }));
        var access = (await HttpAssert.OkJsonAsync<JsonElement>(refreshed)).GetProperty("access_token").GetString()!;
        Assert.Equal(HttpStatusCode.NoContent, (await User.Http(P.Auth, access).PostAsync("/auth/logout", null)).StatusCode);
        var admin = await AuditTrail.AdminTokenAsync(P);

        string[] expected = ["UserRegistered", "LoginFailed", "SessionCreated", "LoginSucceeded", "TokenRefreshed", "SessionRevoked", "LoggedOut"];
        var trail = await AuditTrail.WaitForAsync(P, admin, tokens.Sub, expected.Length);
        await Task.Delay(TimeSpan.FromSeconds(1)); // anything duplicated would have arrived by now
        trail = await AuditTrail.EventsAsync(P, admin, tokens.Sub);

        Assert.Equal(expected.Order(), trail.Select(e => e.Type()).Order()); // each exactly once, nothing else
        var byType = trail.ToDictionary(e => e.Type());
        Assert.Equal("LoginFailed", byType["LoginFailed"].Type());
        Assert.Equal("invalid_credentials", byType["LoginFailed"].GetProperty("payload").GetProperty("reason").GetString());
        Assert.Equal(tokens.Sub, byType["LoginSucceeded"].GetProperty("actor").GetString());
        Assert.Equal("platform-app", byType["TokenRefreshed"].GetProperty("actor").GetString());
        foreach (var type in new[] { "LoginFailed", "LoginSucceeded", "TokenRefreshed", "LoggedOut" })
        {
            Assert.Equal("127.0.0.1", byType[type].GetProperty("ipAddress").GetString());
        }
        Assert.Equal("audit-journey/1.0", byType["LoginSucceeded"].GetProperty("userAgent").GetString());
        DateTimeOffset At(string type) => byType[type].GetProperty("occurredAt").GetDateTimeOffset();
        Assert.True(At("UserRegistered") < At("LoginFailed"));
        Assert.True(At("LoginFailed") < At("SessionCreated"));
        Assert.True(At("SessionCreated") <= At("LoginSucceeded"));
        Assert.True(At("LoginSucceeded") < At("TokenRefreshed"));
        Assert.True(At("TokenRefreshed") < At("SessionRevoked"));
        Assert.DoesNotContain(user.Password, JsonSerializer.Serialize(trail));

        var verify = await HttpAssert.OkJsonAsync<JsonElement>(await User.Http(P.Audit, admin).GetAsync("/audit/verify"));
        Assert.True(verify.GetProperty("verified").GetBoolean(), verify.ToString());

        var mine = await HttpAssert.OkJsonAsync<JsonElement>(await User.Http(P.Audit, (await user.LoginAsync()).Access).GetAsync("/audit/me"));
        Assert.Contains(mine.GetProperty("items").EnumerateArray(), e => e.Type() == "LoginSucceeded" && e.GetProperty("ipAddress").GetString() == "127.0.0.1");
    }

    [Fact]
    public async Task A_users_own_activity_shows_their_sign_in_as_theirs_and_an_admins_revocation_without_the_admins_network_data()
    {
        var user = User.New(P);
        await user.RegisterAsync();
        var tokens = await user.LoginAsync("own-activity/1.0");
        var admin = await AuditTrail.AdminTokenAsync(P);
        using var adminHttp = User.Http(P.Token, admin);
        adminHttp.DefaultRequestHeaders.UserAgent.ParseAdd("admin-console/1.0");
        Assert.Equal(HttpStatusCode.OK, (await adminHttp.DeleteAsync($"/admin/users/{tokens.Sub}/sessions")).StatusCode);
        var revokedByAdmin = Assert.Single(await AuditTrail.WaitForAsync(P, admin, tokens.Sub, 1, "AllSessionsRevoked"));
        Assert.Equal("admin-console/1.0", revokedByAdmin.GetProperty("userAgent").GetString()); // the admin's view keeps it

        var again = await user.LoginAsync("own-activity/1.0");
        var response = await User.Http(P.Audit, again.Access).GetAsync("/audit/me");
        var body = await response.Content.ReadAsStringAsync();
        var mine = (await HttpAssert.OkJsonAsync<JsonElement>(response)).GetProperty("items").EnumerateArray().ToList();

        var signIn = mine.First(e => e.Type() == "SessionCreated");
        Assert.True(signIn.GetProperty("byYou").GetBoolean(), signIn.ToString());
        Assert.Equal("you", signIn.GetProperty("actorRole").GetString());
        Assert.Equal("own-activity/1.0", signIn.GetProperty("userAgent").GetString());
        var revoked = mine.Single(e => e.Type() == "AllSessionsRevoked");
        Assert.Equal("an administrator", revoked.GetProperty("actorRole").GetString());
        Assert.False(revoked.GetProperty("byYou").GetBoolean());
        Assert.Equal(JsonValueKind.Null, revoked.GetProperty("ipAddress").ValueKind);
        Assert.DoesNotContain("admin-console", body, StringComparison.Ordinal);
    }
}

using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using SecurePlatform.TestSupport;

namespace SecurePlatform.EndToEnd.Tests;

[CollectionDefinition(Name)]
public sealed class PlatformCollection : ICollectionFixture<PlatformFixture>
{
    public const string Name = "platform";
}

/// <summary>The whole sign-in journey over HTTP against the four services as real processes.</summary>
[Collection(PlatformCollection.Name)]
public class SignInJourneyTests(PlatformFixture fixture)
{
    private Platform P => fixture.Platform;

    private static readonly TimeSpan SameSecond = TimeSpan.FromSeconds(1);

    private Task<HttpResponseMessage> RefreshAsync(string refreshToken) =>
        User.Http(P.Token).PostAsync("/connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token", ["client_id"] = "platform-app", ["refresh_token"] = refreshToken,
        }));

    private static async Task<TimeSpan> RefusedWithinTheSecondAsync(ServiceProcess service, string path, string accessToken)
    {
        var client = User.Http(service, accessToken);
        var clock = Stopwatch.StartNew();
        await Eventually.HoldsAsync(async () => (await client.GetAsync(path)).StatusCode == HttpStatusCode.Unauthorized, SameSecond,
            $"{service.Project} refuses the revoked session's access token on {path}");
        return clock.Elapsed;
    }

    [Fact]
    public async Task Register_login_profile_refresh_replay_logout_and_password_change_hold_end_to_end()
    {
        var user = User.New(P);
        await user.RegisterAsync();

        // login -> profile
        var first = await user.LoginAsync();
        var profile = User.Http(P.Profile, first.Access);
        var me = await HttpAssert.OkJsonAsync<JsonElement>(await profile.GetAsync("/profiles/me"));
        Assert.Equal(first.Sub, me.GetProperty("sub").GetString());
        var put = await profile.PutAsJsonAsync("/profiles/me", new { displayName = "Journey Tester" });
        Assert.Equal("Journey Tester", (await HttpAssert.OkJsonAsync<JsonElement>(put)).GetProperty("displayName").GetString());

        // refresh: a new pair, same session
        var second = Tokens.From(await HttpAssert.OkJsonAsync<JsonElement>(await RefreshAsync(first.Refresh)));
        Assert.NotEqual(first.Refresh, second.Refresh);
        Assert.Equal(first.Sid, second.Sid);
        Assert.Equal(HttpStatusCode.OK, (await User.Http(P.Profile, second.Access).GetAsync("/profiles/me")).StatusCode);

        // replaying the used refresh token is refused and revokes the session: its live access token dies everywhere
        var replay = await RefreshAsync(first.Refresh);
        Assert.Equal(HttpStatusCode.BadRequest, replay.StatusCode);
        await RefusedWithinTheSecondAsync(P.Profile, "/profiles/me", second.Access);
        Assert.Equal(HttpStatusCode.BadRequest, (await RefreshAsync(second.Refresh)).StatusCode);

        // login again -> logout: refused by profile-service and audit-service within the same second
        var third = await user.LoginAsync();
        Assert.NotEqual(first.Sid, third.Sid);
        Assert.Equal(HttpStatusCode.OK, (await User.Http(P.Profile, third.Access).GetAsync("/profiles/me")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await User.Http(P.Audit, third.Access).GetAsync("/audit/me")).StatusCode);
        var logout = await User.Http(P.Auth, third.Access).PostAsync("/auth/logout", null);
        Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
        var profileLag = await RefusedWithinTheSecondAsync(P.Profile, "/profiles/me", third.Access);
        var auditLag = await RefusedWithinTheSecondAsync(P.Audit, "/audit/me", third.Access);
        Assert.True(profileLag < SameSecond && auditLag < SameSecond);

        // password change on one device revokes the user's other sessions and keeps the current one
        var deviceA = await user.LoginAsync("device-a");
        var deviceB = await user.LoginAsync("device-b");
        var oldPassword = user.Password;
        var change = await user.ChangePasswordAsync(deviceA, "Another-Long-Passphrase-" + Guid.NewGuid().ToString("N")[..6]);
        Assert.Equal(HttpStatusCode.NoContent, change.StatusCode);
        await RefusedWithinTheSecondAsync(P.Profile, "/profiles/me", deviceB.Access);
        Assert.Equal(HttpStatusCode.BadRequest, (await RefreshAsync(deviceB.Refresh)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await User.Http(P.Profile, deviceA.Access).GetAsync("/profiles/me")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await RefreshAsync(deviceA.Refresh)).StatusCode);
        var stale = await User.Http(P.Auth).PostAsJsonAsync("/auth/login", new { email = user.Email, password = oldPassword });
        Assert.Equal(HttpStatusCode.Unauthorized, stale.StatusCode);
        await user.LoginAsync();
    }

    [Fact]
    public async Task Signing_in_again_right_after_sign_out_everywhere_works()
    {
        var user = User.New(P);
        await user.RegisterAsync();
        var admin = await AdminSignIn.LoginAsync(P, "e2e-tests/1.0");
        var before = await user.LoginAsync();

        var everywhere = await User.Http(P.Token, admin.Access).DeleteAsync($"/admin/users/{before.Sub}/sessions");
        var after = await user.LoginAsync(); // same second as the sub-wide revocation

        Assert.Equal(HttpStatusCode.OK, everywhere.StatusCode);
        await RefusedWithinTheSecondAsync(P.Profile, "/profiles/me", before.Access);
        Assert.Equal(HttpStatusCode.OK, (await User.Http(P.Profile, after.Access).GetAsync("/profiles/me")).StatusCode);
    }
}

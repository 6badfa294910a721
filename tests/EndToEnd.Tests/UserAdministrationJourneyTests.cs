using System.Net;
using System.Net.Http.Json;
using Npgsql;
using SecurePlatform.TestSupport;

namespace SecurePlatform.EndToEnd.Tests;

/// <summary>
/// An administrator's (or the user's own) action on an account reaches every service: a disabled user's live access
/// token dies at profile-service within the second; a deleted account's profile is erased (UserDeleted over the bus).
/// </summary>
[Collection(PlatformCollection.Name)]
public class UserAdministrationJourneyTests(PlatformFixture fixture)
{
    private static readonly TimeSpan SameSecond = TimeSpan.FromSeconds(1);

    /// <summary>outbox → broker → profile-service's consumer, on a loaded machine.</summary>
    private static readonly TimeSpan ProfileErasure = TimeSpan.FromSeconds(30);

    private Platform P => fixture.Platform;

    private static async Task<long> ProfileRowsAsync(string sub)
    {
        await using var connection = new NpgsqlConnection(TestEnvironment.UniqueDatabase("profiledb", "e2e"));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT count(*) FROM profiles WHERE id = @sub", connection);
        command.Parameters.AddWithValue("sub", sub);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private async Task<(User User, Tokens Tokens)> UserWithProfileAsync(string displayName)
    {
        var user = User.New(P);
        await user.RegisterAsync();
        var tokens = await user.LoginAsync();
        var put = await User.Http(P.Profile, tokens.Access).PutAsJsonAsync("/profiles/me", new { displayName });
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        Assert.Equal(1, await ProfileRowsAsync(tokens.Sub));
        return (user, tokens);
    }

    [Fact]
    public async Task A_user_an_administrator_disables_is_refused_by_profile_service_within_the_second_and_cannot_sign_in()
    {
        var (user, tokens) = await UserWithProfileAsync("Soon Disabled");
        var profile = User.Http(P.Profile, tokens.Access);
        Assert.Equal(HttpStatusCode.OK, (await profile.GetAsync("/profiles/me")).StatusCode); // its session cached as clean
        var admin = await AdminSignIn.LoginAsync(P);

        var disable = await User.Http(P.Auth, admin.Access).PostAsJsonAsync($"/admin/users/{tokens.Sub}/disable", new { reason = "e2e journey" });

        Assert.Equal(HttpStatusCode.OK, disable.StatusCode);
        // Counted from the administrator's answer: the sessions end before it is given.
        await Eventually.HoldsAsync(async () => (await profile.GetAsync("/profiles/me")).StatusCode == HttpStatusCode.Unauthorized, SameSecond,
            "profile-service refuses the disabled user's access token within the second");
        var refresh = await User.Http(P.Token).PostAsync("/connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token", ["client_id"] = "platform-app", ["refresh_token"] = tokens.Refresh,
        }));
        Assert.Equal(HttpStatusCode.BadRequest, refresh.StatusCode);
        var signIn = await User.Http(P.Auth).PostAsJsonAsync("/auth/login", new { email = user.Email, password = user.Password });
        Assert.Equal(HttpStatusCode.Unauthorized, signIn.StatusCode);
        Assert.Equal(1, await ProfileRowsAsync(tokens.Sub)); // disabled, not deleted: the profile stays
    }

    [Theory]
    [InlineData("administrator")]
    [InlineData("user")]
    public async Task A_deleted_account_loses_its_profile_within_a_bounded_wait(string deletedBy)
    {
        var (user, tokens) = await UserWithProfileAsync("Soon Deleted");
        var admin = await AdminSignIn.LoginAsync(P);

        HttpResponseMessage delete;
        if (deletedBy == "administrator")
        {
            delete = await User.Http(P.Auth, admin.Access).DeleteAsync($"/admin/users/{tokens.Sub}");
        }
        else
        {
            using var request = new HttpRequestMessage(HttpMethod.Delete, "/auth/account") { Content = JsonContent.Create(new { password = user.Password }) };
            delete = await User.Http(P.Auth, tokens.Access).SendAsync(request);
        }

        Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        // Not /profiles/me: it creates an empty profile for a caller who has none, which is what is under test here.
        await Eventually.HoldsAsync(async () => (await User.Http(P.Profile, tokens.Access).GetAsync($"/profiles/{tokens.Sub}")).StatusCode == HttpStatusCode.Unauthorized,
            SameSecond, "the deleted account's session is refused");
        var adminProfiles = User.Http(P.Profile, admin.Access);
        await Eventually.HoldsAsync(async () => await ProfileRowsAsync(tokens.Sub) == 0, ProfileErasure, "the profile row erased");
        Assert.Equal(HttpStatusCode.NotFound, (await adminProfiles.GetAsync($"/profiles/{tokens.Sub}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await User.Http(P.Auth, admin.Access).GetAsync($"/admin/users/{tokens.Sub}")).StatusCode);
        var signIn = await User.Http(P.Auth).PostAsJsonAsync("/auth/login", new { email = user.Email, password = user.Password });
        Assert.Equal(HttpStatusCode.Unauthorized, signIn.StatusCode);
    }
}

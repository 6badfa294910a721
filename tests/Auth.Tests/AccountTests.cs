using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using SecurePlatform.Auth.Model;
using SecurePlatform.ServiceDefaults.Auth;
using SecurePlatform.TestSupport;
using StackExchange.Redis;

namespace SecurePlatform.Auth.Tests;

/// <summary><c>GET /auth/account</c>: the caller's own account, never a secret, only with a live session.</summary>
public class AccountTests(AuthApp app) : IClassFixture<AuthApp>
{
    private const string Password = "zebra glacier 47 lantern";

    private static readonly string[] Members =
        ["sub", "email", "emailVerified", "createdAt", "lastLoginAt", "roles", "mfaEnabled", "hasPassword", "passwordChangeRequired", "externalLogins"];

    private async Task<(string Email, string Id, FakeTokenService.Issued Session)> SignedInAsync()
    {
        var email = AuthApp.NewEmail("account");
        var id = await app.RegisterAsync(email, Password);
        Assert.Equal(HttpStatusCode.OK, (await app.LoginAsync(email, Password)).StatusCode);
        return (email, id, app.TokenService.IssuedTokens.Last());
    }

    private Task<HttpResponseMessage> GetAccountAsync(string? accessToken)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/auth/account");
        if (accessToken is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        }
        return app.Client.SendAsync(request);
    }

    [Fact]
    public async Task A_new_account_reads_back_as_registered_with_nothing_secret_in_it()
    {
        var registeredFrom = DateTimeOffset.UtcNow.AddSeconds(-5);
        var (email, id, session) = await SignedInAsync();

        var response = await GetAccountAsync(session.AccessToken);

        var account = await HttpAssert.OkJsonAsync<JsonElement>(response);
        Assert.Equal(Members.Order(), account.EnumerateObject().Select(p => p.Name).Order());
        Assert.Equal(id, account.GetProperty("sub").GetString());
        Assert.Equal(email, account.GetProperty("email").GetString());
        Assert.False(account.GetProperty("emailVerified").GetBoolean());
        Assert.InRange(account.GetProperty("createdAt").GetDateTimeOffset(), registeredFrom, DateTimeOffset.UtcNow.AddSeconds(5));
        Assert.NotEqual(JsonValueKind.Null, account.GetProperty("lastLoginAt").ValueKind);
        Assert.Equal(["user"], account.GetProperty("roles").EnumerateArray().Select(r => r.GetString()));
        Assert.False(account.GetProperty("mfaEnabled").GetBoolean());
        Assert.True(account.GetProperty("hasPassword").GetBoolean());
        Assert.False(account.GetProperty("passwordChangeRequired").GetBoolean());
        Assert.Empty(account.GetProperty("externalLogins").EnumerateArray());
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
        var user = await app.WithUsersAsync(users => users.FindByIdAsync(id));
        var body = account.ToString();
        Assert.DoesNotContain(user!.PasswordHash!, body, StringComparison.Ordinal);
        Assert.DoesNotContain(user.SecurityStamp!, body, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Roles_mfa_external_links_and_a_required_password_change_show_and_the_authenticator_secret_does_not()
    {
        var (_, id, session) = await SignedInAsync();
        const string secretMarker = "protected-totp-secret-that-must-not-leave";
        await app.WithDbAsync(async db =>
        {
            db.UserRoles.Add(new IdentityUserRole<string> { UserId = id, RoleId = RoleNames.AdminRoleId });
            db.TotpAuthenticators.Add(new TotpAuthenticator { UserId = id, ProtectedSecret = secretMarker, ConfirmedAt = DateTimeOffset.UtcNow });
            db.UserLogins.Add(new IdentityUserLogin<string> { UserId = id, LoginProvider = "GitHub", ProviderKey = "gh-4711", ProviderDisplayName = "GitHub" });
            var user = await db.Users.SingleAsync(u => u.Id == id);
            user.PasswordChangeRequired = true;
            return await db.SaveChangesAsync();
        });

        var account = await HttpAssert.OkJsonAsync<JsonElement>(await GetAccountAsync(session.AccessToken));

        Assert.Equal(["admin", "user"], account.GetProperty("roles").EnumerateArray().Select(r => r.GetString()));
        Assert.True(account.GetProperty("mfaEnabled").GetBoolean());
        Assert.True(account.GetProperty("passwordChangeRequired").GetBoolean());
        var link = Assert.Single(account.GetProperty("externalLogins").EnumerateArray());
        Assert.Equal("GitHub", link.GetProperty("provider").GetString());
        Assert.DoesNotContain(secretMarker, account.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unconfirmed_authenticator_is_not_mfa_enrolled()
    {
        var (_, id, session) = await SignedInAsync();
        await app.WithDbAsync(db =>
        {
            db.TotpAuthenticators.Add(new TotpAuthenticator { UserId = id, ProtectedSecret = "pending" });
            return db.SaveChangesAsync();
        });

        var account = await HttpAssert.OkJsonAsync<JsonElement>(await GetAccountAsync(session.AccessToken));

        Assert.False(account.GetProperty("mfaEnabled").GetBoolean());
    }

    [Fact]
    public async Task No_token_a_revoked_session_a_disabled_or_a_deleted_account_get_401_and_no_account()
    {
        var (_, _, revoked) = await SignedInAsync();
        var (_, disabledId, disabled) = await SignedInAsync();
        var (_, deletedId, deleted) = await SignedInAsync();
        Assert.Equal(HttpStatusCode.OK, (await GetAccountAsync(revoked.AccessToken)).StatusCode); // cached as clean first
        await new SessionRevocationWriter(app.Services.GetRequiredService<IConnectionMultiplexer>()).RevokeSessionsAsync([revoked.Sid], TimeSpan.FromMinutes(17));
        await app.WithDbAsync(async db =>
        {
            (await db.Users.SingleAsync(u => u.Id == disabledId)).DisabledAt = DateTimeOffset.UtcNow;
            db.Users.Remove(await db.Users.SingleAsync(u => u.Id == deletedId));
            return await db.SaveChangesAsync();
        });

        Assert.Equal(HttpStatusCode.Unauthorized, (await GetAccountAsync(null)).StatusCode);
        await Eventually.HoldsAsync(async () => (await GetAccountAsync(revoked.AccessToken)).StatusCode == HttpStatusCode.Unauthorized,
            TimeSpan.FromSeconds(1), "the revoked session refused within the second");
        foreach (var token in new[] { disabled.AccessToken, deleted.AccessToken })
        {
            var response = await GetAccountAsync(token);
            var problem = await HttpAssert.IsProblemAsync(response, HttpStatusCode.Unauthorized);
            Assert.False(problem.TryGetProperty("sub", out _));
        }
    }
}

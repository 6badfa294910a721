using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using OtpNet;
using SecurePlatform.Auth.Infrastructure;
using SecurePlatform.Auth.Model;
using SecurePlatform.Contracts;
using SecurePlatform.Messaging;
using SecurePlatform.TestSupport;

namespace SecurePlatform.Auth.Tests;

public sealed class AdminUsersAuthApp() : AuthApp("admin_users");

/// <summary>What the admin users tests share: accounts made in the database, tokens for every kind of caller, requests.</summary>
public static class AdminUsers
{
    public const string Password = "zebra glacier 47 lantern";

    public static readonly string[] MfaAmr = ["pwd", "otp", "mfa"];

    /// <summary>An administrator's token: admin role, mfa in amr, signed in just now.</summary>
    public static string AdminToken(string sub, string? sid = null) => TestTokens.Issue(sub, sid, roles: [RoleNames.Admin, RoleNames.User], amr: MfaAmr,
        claims: new Dictionary<string, object?> { ["auth_time"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds() });

    public static string StaleAdminToken(string sub) => TestTokens.Issue(sub, roles: [RoleNames.Admin], amr: MfaAmr,
        claims: new Dictionary<string, object?> { ["auth_time"] = DateTimeOffset.UtcNow.AddMinutes(-11).ToUnixTimeSeconds() });

    public static string UserToken(string sub, string? sid = null, bool stale = false) => TestTokens.Issue(sub, sid, roles: [RoleNames.User], amr: MfaAmr,
        claims: new Dictionary<string, object?> { ["auth_time"] = DateTimeOffset.UtcNow.AddMinutes(stale ? -11 : 0).ToUnixTimeSeconds() });

    /// <summary>An account with the user role (and the admin role when asked), registered through the API.</summary>
    public static async Task<(string Id, string Email)> CreateAsync(AuthApp app, string prefix = "member", bool admin = false)
    {
        var email = AuthApp.NewEmail(prefix);
        var id = await app.RegisterAsync(email, Password);
        if (admin)
        {
            await app.WithDbAsync(db =>
            {
                db.UserRoles.Add(new IdentityUserRole<string> { UserId = id, RoleId = RoleNames.AdminRoleId });
                return db.SaveChangesAsync();
            });
        }
        return (id, email);
    }

    public static Task<HttpResponseMessage> SendAsync(AuthApp app, HttpMethod method, string path, string? accessToken, object? body = null)
    {
        var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
        if (accessToken is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        }
        return app.Client.SendAsync(request);
    }

    public static Task<User?> FindAsync(AuthApp app, string id) => app.WithDbAsync(db => db.Users.AsNoTracking().SingleOrDefaultAsync(u => u.Id == id));

    public static Task<List<string>> RolesAsync(AuthApp app, string id) => app.WithDbAsync(db =>
        db.UserRoles.Where(r => r.UserId == id).Select(r => r.RoleId == RoleNames.AdminRoleId ? RoleNames.Admin : RoleNames.User).OrderBy(r => r).ToListAsync());

    /// <summary>Outbox events of one type about one account, deserialised.</summary>
    public static async Task<List<T>> EventsAboutAsync<T>(AuthApp app, string subject) where T : IntegrationEvent =>
        [.. (await app.EventsAsync(typeof(T).Name)).Select(m => JsonSerializer.Deserialize<T>(m.Payload, JsonSerializerOptions.Web)!).Where(e => e.Subject == subject)];
}

/// <summary>
/// The admin users API against the real PostgreSQL and Redis: who may call it, search and paging, each change with its
/// audit event and the immediate end of the user's sessions, and that a refused call changes nothing.
/// </summary>
public class AdminUsersTests(AdminUsersAuthApp app) : IClassFixture<AdminUsersAuthApp>, IAsyncLifetime
{
    // The acting administrator need not exist here: the admin policy reads the token. A second, real admin account
    // exists so that the last-administrator rule never refuses a change in this class (LastAdministratorTests has it).
    private readonly string _admin = Guid.CreateVersion7().ToString();

    public async Task InitializeAsync()
    {
        app.TokenService.Reset();
        if (!await app.WithDbAsync(db => db.UserRoles.AnyAsync(r => r.RoleId == RoleNames.AdminRoleId)))
        {
            await AdminUsers.CreateAsync(app, "standing-admin", admin: true);
        }
    }

    public Task DisposeAsync() => Task.CompletedTask;

    private Task<HttpResponseMessage> AsAdminAsync(HttpMethod method, string path, object? body = null) =>
        AdminUsers.SendAsync(app, method, path, AdminUsers.AdminToken(_admin), body);

    [Fact]
    public async Task Admin_routes_refuse_anonymous_callers_users_and_admins_without_mfa_and_change_nothing()
    {
        var (id, _) = await AdminUsers.CreateAsync(app);
        var withoutMfa = TestTokens.Issue(_admin, roles: [RoleNames.Admin], amr: ["pwd"],
            claims: new Dictionary<string, object?> { ["auth_time"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds() });
        var callers = new (string? Token, HttpStatusCode Status)[]
        {
            (null, HttpStatusCode.Unauthorized),
            (AdminUsers.UserToken(id), HttpStatusCode.Forbidden),
            (withoutMfa, HttpStatusCode.Forbidden),
        };

        foreach (var (token, status) in callers)
        {
            Assert.Equal(status, (await AdminUsers.SendAsync(app, HttpMethod.Get, "/admin/users", token)).StatusCode);
            Assert.Equal(status, (await AdminUsers.SendAsync(app, HttpMethod.Get, $"/admin/users/{id}", token)).StatusCode);
            Assert.Equal(status, (await AdminUsers.SendAsync(app, HttpMethod.Post, $"/admin/users/{id}/disable", token, new { })).StatusCode);
            Assert.Equal(status, (await AdminUsers.SendAsync(app, HttpMethod.Put, $"/admin/users/{id}/roles", token, new { roles = new[] { "admin", "user" } })).StatusCode);
            Assert.Equal(status, (await AdminUsers.SendAsync(app, HttpMethod.Delete, $"/admin/users/{id}", token)).StatusCode);
        }

        var user = await AdminUsers.FindAsync(app, id);
        Assert.NotNull(user);
        Assert.False(user.IsDisabled);
        Assert.Equal([RoleNames.User], await AdminUsers.RolesAsync(app, id));
        Assert.Empty(await AdminUsers.EventsAboutAsync<UserDisabled>(app, id));
        Assert.Empty(await AdminUsers.EventsAboutAsync<RoleGranted>(app, id));
        Assert.Empty(app.TokenService.SessionRequests);
    }

    [Fact]
    public async Task A_change_from_an_old_sign_in_asks_to_sign_in_again_and_changes_nothing()
    {
        var (id, email) = await AdminUsers.CreateAsync(app);
        var stale = AdminUsers.StaleAdminToken(_admin);

        var responses = new[]
        {
            await AdminUsers.SendAsync(app, HttpMethod.Post, $"/admin/users/{id}/disable", stale, new { reason = "test" }),
            await AdminUsers.SendAsync(app, HttpMethod.Put, $"/admin/users/{id}/roles", stale, new { roles = new[] { "admin", "user" } }),
            await AdminUsers.SendAsync(app, HttpMethod.Post, $"/admin/users/{id}/require-password-change", stale),
            await AdminUsers.SendAsync(app, HttpMethod.Delete, $"/admin/users/{id}/mfa", stale),
            await AdminUsers.SendAsync(app, HttpMethod.Delete, $"/admin/users/{id}", stale),
            // Decided before the body is read: a body the strict reader refuses (an unknown member) gets the step-up too.
            await AdminUsers.SendAsync(app, HttpMethod.Put, $"/admin/users/{id}/roles", stale, new { roles = new[] { "admin" }, everyone = true }),
        };
        // Not an administrator, and stale as well: the 403, not an invitation to sign in again.
        var notAdmin = await AdminUsers.SendAsync(app, HttpMethod.Post, $"/admin/users/{id}/disable", AdminUsers.UserToken(id, stale: true), new { reason = "test" });
        await HttpAssert.IsProblemAsync(notAdmin, HttpStatusCode.Forbidden);
        Assert.Empty(notAdmin.Headers.WwwAuthenticate);

        foreach (var response in responses)
        {
            await HttpAssert.IsProblemAsync(response, HttpStatusCode.Unauthorized);
            Assert.Contains("insufficient_user_authentication", string.Join(",", response.Headers.WwwAuthenticate.Select(h => h.ToString())), StringComparison.Ordinal);
        }
        var user = await AdminUsers.FindAsync(app, id);
        Assert.NotNull(user);
        Assert.False(user.IsDisabled);
        Assert.False(user.PasswordChangeRequired);
        Assert.Equal([RoleNames.User], await AdminUsers.RolesAsync(app, id));
        Assert.Empty(await AdminUsers.EventsAboutAsync<UserDisabled>(app, id));
        Assert.Empty(await AdminUsers.EventsAboutAsync<UserDeleted>(app, id));
        Assert.Empty(app.TokenService.SessionRequests);
        Assert.Equal(HttpStatusCode.OK, (await app.LoginAsync(email, AdminUsers.Password)).StatusCode);
        // Reading needs no recent sign-in.
        Assert.Equal(HttpStatusCode.OK, (await AdminUsers.SendAsync(app, HttpMethod.Get, $"/admin/users/{id}", stale)).StatusCode);
    }

    [Fact]
    public async Task Search_filters_by_email_prefix_role_and_state_and_pages_in_a_stable_order()
    {
        var tag = "page" + Guid.NewGuid().ToString("N")[..8];
        var ids = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            ids.Add((await AdminUsers.CreateAsync(app, $"{tag}-{i}", admin: i == 3)).Id);
        }
        await AsAdminAsync(HttpMethod.Post, $"/admin/users/{ids[1]}/disable", new { });

        var seen = new List<string>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var page = await HttpAssert.OkJsonAsync<JsonElement>(await AsAdminAsync(HttpMethod.Get, $"/admin/users?email={tag.ToUpperInvariant()}&limit=2" + (cursor is null ? "" : "&cursor=" + cursor)));
            seen.AddRange(page.GetProperty("items").EnumerateArray().Select(u => u.GetProperty("id").GetString()!));
            cursor = page.GetProperty("nextCursor").GetString();
            pages++;
            // A new account between pages sorts after every existing one and does not shift the pages.
            if (pages == 1)
            {
                ids.Add((await AdminUsers.CreateAsync(app, $"{tag}-late")).Id);
            }
        }
        while (cursor is not null && pages < 10);

        Assert.Equal(3, pages);
        Assert.Equal(ids, seen);
        Assert.Equal([ids[3]], await IdsAsync($"/admin/users?email={tag}&role=admin"));
        Assert.Equal([ids[1]], await IdsAsync($"/admin/users?email={tag}&state=disabled"));
        Assert.Equal(ids.Where(i => i != ids[1]), await IdsAsync($"/admin/users?email={tag}&state=active"));
        Assert.Empty(await IdsAsync($"/admin/users?email={tag}-0{Uri.EscapeDataString("%")}"));

        var one = await HttpAssert.OkJsonAsync<JsonElement>(await AsAdminAsync(HttpMethod.Get, $"/admin/users/{ids[3]}"));
        Assert.Equal(["admin", "user"], one.GetProperty("roles").EnumerateArray().Select(r => r.GetString()));
        Assert.Equal("active", one.GetProperty("state").GetString());
        Assert.False(one.GetProperty("mfaEnabled").GetBoolean());
        Assert.StartsWith(tag + "-3", one.GetProperty("email").GetString(), StringComparison.Ordinal);
    }

    private async Task<List<string>> IdsAsync(string path) =>
        [.. (await HttpAssert.OkJsonAsync<JsonElement>(await AsAdminAsync(HttpMethod.Get, path))).GetProperty("items").EnumerateArray().Select(u => u.GetProperty("id").GetString()!)];

    [Theory]
    [InlineData("cursor=not-a-cursor", "cursor")]
    [InlineData("cursor=dTE6MTIz", "cursor")] // "u1:123": the right wrapping around something that is no id
    [InlineData("limit=0", "limit")]
    [InlineData("limit=201", "limit")]
    [InlineData("limit=abc", "limit")]
    [InlineData("state=locked", "state")]
    [InlineData("role=root", "role")]
    [InlineData("email=", "email")]
    public async Task A_bad_query_parameter_gets_a_problem_naming_it(string query, string field)
    {
        var problem = await HttpAssert.IsProblemAsync(await AsAdminAsync(HttpMethod.Get, "/admin/users?" + query), HttpStatusCode.BadRequest);

        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
    }

    [Fact]
    public async Task An_unknown_user_is_404_for_reads_and_changes()
    {
        foreach (var sub in new[] { Guid.CreateVersion7().ToString(), "not-a-user" })
        {
            await HttpAssert.IsProblemAsync(await AsAdminAsync(HttpMethod.Get, $"/admin/users/{sub}"), HttpStatusCode.NotFound);
            await HttpAssert.IsProblemAsync(await AsAdminAsync(HttpMethod.Post, $"/admin/users/{sub}/disable", new { }), HttpStatusCode.NotFound);
            await HttpAssert.IsProblemAsync(await AsAdminAsync(HttpMethod.Delete, $"/admin/users/{sub}"), HttpStatusCode.NotFound);
        }
        Assert.Empty(app.TokenService.SessionRequests);
    }

    [Fact]
    public async Task Disabling_ends_every_session_at_once_refuses_every_sign_in_path_and_is_audited_with_before_and_after()
    {
        var (id, email) = await AdminUsers.CreateAsync(app);
        var adminToken = AdminUsers.AdminToken(_admin);

        var response = await AdminUsers.SendAsync(app, HttpMethod.Post, $"/admin/users/{id}/disable", adminToken, new { reason = "suspicious activity" });

        var body = await HttpAssert.OkJsonAsync<JsonElement>(response);
        Assert.Equal("disabled", body.GetProperty("state").GetString());
        Assert.True((await AdminUsers.FindAsync(app, id))!.IsDisabled);
        // token-service was told at once, with the administrator's own token (its admin policy checks it again).
        var revocation = Assert.Single(app.TokenService.SessionRequests);
        Assert.Equal($"/admin/users/{id}/sessions", revocation.Path);
        Assert.Equal("Bearer " + adminToken, revocation.Authorization);
        var disabled = Assert.Single(await AdminUsers.EventsAboutAsync<UserDisabled>(app, id));
        Assert.Equal(_admin, disabled.Actor);
        Assert.Equal("suspicious activity", disabled.Reason);
        Assert.False(disabled.Before!.Disabled);
        Assert.True(disabled.After!.Disabled);
        Assert.Equal([RoleNames.User], disabled.After.Roles);

        // Every sign-in path: the JSON login with the right password, and the hosted login's back channel.
        await HttpAssert.IsProblemAsync(await app.LoginAsync(email, AdminUsers.Password), HttpStatusCode.Unauthorized);
        var hosted = await app.Client.SendAsync(new HttpRequestMessage(HttpMethod.Post, Protocol.CredentialCheck.Path)
        {
            Content = JsonContent.Create(new { email, password = AdminUsers.Password, clientId = "spa" }),
            Headers = { Authorization = new AuthenticationHeaderValue("Bearer", AuthApp.TokenServiceToken()) },
        });
        await HttpAssert.IsProblemAsync(hosted, HttpStatusCode.Unauthorized);
        Assert.Empty(app.TokenService.TokenRequests);

        // Disabling again changes nothing and says nothing new.
        Assert.Equal(HttpStatusCode.OK, (await AsAdminAsync(HttpMethod.Post, $"/admin/users/{id}/disable", new { })).StatusCode);
        Assert.Single(await AdminUsers.EventsAboutAsync<UserDisabled>(app, id));

        var enabled = await HttpAssert.OkJsonAsync<JsonElement>(await AsAdminAsync(HttpMethod.Post, $"/admin/users/{id}/enable"));
        Assert.Equal("active", enabled.GetProperty("state").GetString());
        var enabledEvent = Assert.Single(await AdminUsers.EventsAboutAsync<UserEnabled>(app, id));
        Assert.True(enabledEvent.Before.Disabled);
        Assert.False(enabledEvent.After.Disabled);
        Assert.Equal(HttpStatusCode.OK, (await app.LoginAsync(email, AdminUsers.Password)).StatusCode);
    }

    [Fact]
    public async Task Setting_roles_grants_and_removes_each_with_an_event_and_ends_the_sessions()
    {
        var (id, email) = await AdminUsers.CreateAsync(app);

        var granted = await HttpAssert.OkJsonAsync<JsonElement>(await AsAdminAsync(HttpMethod.Put, $"/admin/users/{id}/roles", new { roles = new[] { "user", "admin" } }));

        Assert.Equal(["admin", "user"], granted.GetProperty("roles").EnumerateArray().Select(r => r.GetString()));
        Assert.Equal([RoleNames.Admin, RoleNames.User], await AdminUsers.RolesAsync(app, id));
        var grant = Assert.Single(await AdminUsers.EventsAboutAsync<RoleGranted>(app, id));
        Assert.Equal((RoleNames.Admin, _admin), (grant.Role, grant.Actor));
        Assert.Equal([RoleNames.User], grant.Before!.Roles);
        Assert.Equal([RoleNames.Admin, RoleNames.User], grant.After!.Roles);
        Assert.Equal($"/admin/users/{id}/sessions", Assert.Single(app.TokenService.SessionRequests).Path);

        // The next sign-in asks token-service for tokens with the new roles (without MFA the admin role waits for enrolment).
        app.TokenService.Reset();
        Assert.Equal(HttpStatusCode.OK, (await app.LoginAsync(email, AdminUsers.Password)).StatusCode);
        Assert.DoesNotContain("admin", Assert.Single(app.TokenService.TokenRequests).Form["roles"], StringComparison.Ordinal);

        app.TokenService.Reset();
        await HttpAssert.OkJsonAsync<JsonElement>(await AsAdminAsync(HttpMethod.Put, $"/admin/users/{id}/roles", new { roles = Array.Empty<string>() }));
        Assert.Empty(await AdminUsers.RolesAsync(app, id));
        var revoked = (await AdminUsers.EventsAboutAsync<RoleRevoked>(app, id)).Select(e => e.Role).Order().ToList();
        Assert.Equal([RoleNames.Admin, RoleNames.User], revoked);
        Assert.Single(app.TokenService.SessionRequests);
    }

    [Theory]
    [InlineData("""{"roles":["owner"]}""", "roles[0]")]
    [InlineData("""{"roles":["admin","admin"]}""", "roles")]
    [InlineData("""{"roles":null}""", "roles")]
    [InlineData("""{"roles":["admin"],"extra":1}""", "extra")]
    public async Task A_bad_role_list_is_refused_naming_the_field_and_changes_nothing(string json, string field)
    {
        var (id, _) = await AdminUsers.CreateAsync(app);
        var request = new HttpRequestMessage(HttpMethod.Put, $"/admin/users/{id}/roles") { Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AdminUsers.AdminToken(_admin));

        var problem = await HttpAssert.IsProblemAsync(await app.Client.SendAsync(request), HttpStatusCode.BadRequest);

        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
        Assert.Equal([RoleNames.User], await AdminUsers.RolesAsync(app, id));
        Assert.Empty(await AdminUsers.EventsAboutAsync<RoleGranted>(app, id));
        Assert.Empty(app.TokenService.SessionRequests);
    }

    [Fact]
    public async Task Resetting_mfa_removes_the_authenticator_and_recovery_codes_and_ends_the_sessions()
    {
        var (id, email) = await AdminUsers.CreateAsync(app);
        await EnrolAsync(id);
        Assert.True((await HttpAssert.OkJsonAsync<JsonElement>(await app.LoginAsync(email, AdminUsers.Password))).GetProperty("mfaRequired").GetBoolean());

        var reset = await HttpAssert.OkJsonAsync<JsonElement>(await AsAdminAsync(HttpMethod.Delete, $"/admin/users/{id}/mfa"));

        Assert.False(reset.GetProperty("mfaEnabled").GetBoolean());
        Assert.False(await app.WithDbAsync(db => db.TotpAuthenticators.AnyAsync(t => t.UserId == id)));
        Assert.False(await app.WithDbAsync(db => db.RecoveryCodes.AnyAsync(c => c.UserId == id)));
        var disabled = Assert.Single(await AdminUsers.EventsAboutAsync<MfaDisabled>(app, id));
        Assert.Equal(_admin, disabled.Actor);
        Assert.True(disabled.Before!.MfaEnabled);
        Assert.False(disabled.After!.MfaEnabled);
        Assert.Equal($"/admin/users/{id}/sessions", Assert.Single(app.TokenService.SessionRequests).Path);
        Assert.True((await HttpAssert.OkJsonAsync<JsonElement>(await app.LoginAsync(email, AdminUsers.Password))).TryGetProperty("access_token", out _));
    }

    /// <summary>An active authenticator and two recovery codes, written as enrolment writes them; the secret for codes.</summary>
    private async Task<string> EnrolAsync(string id)
    {
        var secret = TotpRules.NewSecret();
        var protector = app.Services.GetRequiredService<TotpSecretProtector>();
        await app.WithDbAsync(db =>
        {
            db.TotpAuthenticators.Add(new TotpAuthenticator { UserId = id, ProtectedSecret = protector.Protect(secret), ConfirmedAt = DateTimeOffset.UtcNow });
            db.RecoveryCodes.AddRange(RecoveryCodeRules.Generate().Take(2).Select(c => new RecoveryCode { UserId = id, Hash = RecoveryCodeRules.Hash(c)! }));
            return db.SaveChangesAsync();
        });
        return secret;
    }

    [Fact]
    public async Task A_required_password_change_refuses_the_sign_in_with_a_reason_until_the_user_sets_a_new_one()
    {
        var (id, email) = await AdminUsers.CreateAsync(app);
        const string newPassword = "copper meadow 93 violin";

        var required = await HttpAssert.OkJsonAsync<JsonElement>(await AsAdminAsync(HttpMethod.Post, $"/admin/users/{id}/require-password-change"));
        Assert.True(required.GetProperty("passwordChangeRequired").GetBoolean());
        Assert.Equal($"/admin/users/{id}/sessions", Assert.Single(app.TokenService.SessionRequests).Path);
        var requiredEvent = Assert.Single(await AdminUsers.EventsAboutAsync<PasswordChangeRequired>(app, id));
        Assert.Equal((false, true), (requiredEvent.Before.PasswordChangeRequired, requiredEvent.After.PasswordChangeRequired));

        // The right password: 403 with the reason, no session asked for. A wrong one: the usual 401.
        var refused = await HttpAssert.IsProblemAsync(await app.LoginAsync(email, AdminUsers.Password), HttpStatusCode.Forbidden);
        Assert.Equal("password_change_required", refused.GetProperty("reason").GetString());
        await HttpAssert.IsProblemAsync(await app.LoginAsync(email, "wrong " + AdminUsers.Password), HttpStatusCode.Unauthorized);
        Assert.Empty(app.TokenService.TokenRequests);

        // The change needs the current password and a policy-conforming new one; refusals change nothing.
        var hash = (await AdminUsers.FindAsync(app, id))!.PasswordHash;
        await HttpAssert.IsProblemAsync(await app.Client.PostAsJsonAsync("/auth/password/expired", new { email, currentPassword = "wrong " + AdminUsers.Password, newPassword }), HttpStatusCode.Unauthorized);
        var weak = await HttpAssert.IsProblemAsync(await app.Client.PostAsJsonAsync("/auth/password/expired", new { email, currentPassword = AdminUsers.Password, newPassword = "password1234" }), HttpStatusCode.BadRequest);
        Assert.True(weak.GetProperty("errors").TryGetProperty("newPassword", out _));
        var missing = await HttpAssert.IsProblemAsync(await app.Client.PostAsJsonAsync("/auth/password/expired", new { email, currentPassword = AdminUsers.Password }), HttpStatusCode.BadRequest);
        Assert.True(missing.GetProperty("errors").TryGetProperty("newPassword", out _));
        var unchanged = (await AdminUsers.FindAsync(app, id))!;
        Assert.Equal(hash, unchanged.PasswordHash);
        Assert.True(unchanged.PasswordChangeRequired);

        Assert.Equal(HttpStatusCode.NoContent, (await app.Client.PostAsJsonAsync("/auth/password/expired", new { email, currentPassword = AdminUsers.Password, newPassword })).StatusCode);

        Assert.False((await AdminUsers.FindAsync(app, id))!.PasswordChangeRequired);
        Assert.Single(await AdminUsers.EventsAboutAsync<PasswordChanged>(app, id));
        await HttpAssert.IsProblemAsync(await app.LoginAsync(email, AdminUsers.Password), HttpStatusCode.Unauthorized);
        Assert.Equal(HttpStatusCode.OK, (await app.LoginAsync(email, newPassword)).StatusCode);
        await HttpAssert.IsProblemAsync(await app.Client.PostAsJsonAsync("/auth/password/expired", new { email, currentPassword = newPassword, newPassword = "velvet harbor 28 comet" }), HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task With_mfa_the_required_password_change_also_needs_a_code()
    {
        var (id, email) = await AdminUsers.CreateAsync(app);
        var secret = await EnrolAsync(id);
        await AsAdminAsync(HttpMethod.Post, $"/admin/users/{id}/require-password-change");
        const string newPassword = "copper meadow 93 violin";

        await HttpAssert.IsProblemAsync(await app.LoginAsync(email, AdminUsers.Password), HttpStatusCode.Forbidden);
        var noCode = await HttpAssert.IsProblemAsync(await app.Client.PostAsJsonAsync("/auth/password/expired", new { email, currentPassword = AdminUsers.Password, newPassword }), HttpStatusCode.BadRequest);
        Assert.True(noCode.GetProperty("errors").TryGetProperty("code", out _));
        Assert.True((await AdminUsers.FindAsync(app, id))!.PasswordChangeRequired);

        var code = new Totp(Base32Encoding.ToBytes(secret)).ComputeTotp(DateTime.UtcNow);
        Assert.Equal(HttpStatusCode.NoContent, (await app.Client.PostAsJsonAsync("/auth/password/expired", new { email, currentPassword = AdminUsers.Password, newPassword, code })).StatusCode);
        Assert.True((await HttpAssert.OkJsonAsync<JsonElement>(await app.LoginAsync(email, newPassword))).GetProperty("mfaRequired").GetBoolean());
    }

    [Fact]
    public async Task Deleting_removes_the_account_and_its_credentials_ends_the_sessions_and_emits_UserDeleted()
    {
        var (id, email) = await AdminUsers.CreateAsync(app);
        await EnrolAsync(id);
        await app.WithDbAsync(db =>
        {
            db.UserLogins.Add(new IdentityUserLogin<string> { UserId = id, LoginProvider = "github", ProviderKey = "gh-" + id, ProviderDisplayName = "GitHub" });
            return db.SaveChangesAsync();
        });

        Assert.Equal(HttpStatusCode.NoContent, (await AsAdminAsync(HttpMethod.Delete, $"/admin/users/{id}")).StatusCode);

        Assert.Null(await AdminUsers.FindAsync(app, id));
        Assert.Equal((0, 0, 0, 0), await app.WithDbAsync(async db => (
            await db.UserRoles.CountAsync(r => r.UserId == id), await db.UserLogins.CountAsync(l => l.UserId == id),
            await db.TotpAuthenticators.CountAsync(t => t.UserId == id), await db.RecoveryCodes.CountAsync(c => c.UserId == id))));
        var deleted = Assert.Single(await AdminUsers.EventsAboutAsync<UserDeleted>(app, id));
        Assert.Equal(_admin, deleted.Actor);
        Assert.True(deleted.Before!.MfaEnabled);
        Assert.DoesNotContain(email, (await app.EventsAsync(nameof(UserDeleted))).Single(e => e.Payload.Contains(id, StringComparison.Ordinal)).Payload, StringComparison.OrdinalIgnoreCase);
        Assert.Equal($"/admin/users/{id}/sessions", Assert.Single(app.TokenService.SessionRequests).Path);
        await HttpAssert.IsProblemAsync(await AsAdminAsync(HttpMethod.Get, $"/admin/users/{id}"), HttpStatusCode.NotFound);
        await HttpAssert.IsProblemAsync(await app.LoginAsync(email, AdminUsers.Password), HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Deleting_ones_own_account_needs_a_recent_sign_in_and_the_password_and_then_removes_it()
    {
        var (id, email) = await AdminUsers.CreateAsync(app);
        var sid = Guid.CreateVersion7().ToString();

        var stale = await AdminUsers.SendAsync(app, HttpMethod.Delete, "/auth/account", AdminUsers.UserToken(id, stale: true), new { password = AdminUsers.Password });
        var wrong = await AdminUsers.SendAsync(app, HttpMethod.Delete, "/auth/account", AdminUsers.UserToken(id), new { password = "wrong " + AdminUsers.Password });
        var none = await AdminUsers.SendAsync(app, HttpMethod.Delete, "/auth/account", AdminUsers.UserToken(id), new { });

        await HttpAssert.IsProblemAsync(stale, HttpStatusCode.Unauthorized);
        Assert.True((await HttpAssert.IsProblemAsync(wrong, HttpStatusCode.BadRequest)).GetProperty("errors").TryGetProperty("password", out _));
        await HttpAssert.IsProblemAsync(none, HttpStatusCode.BadRequest);
        Assert.NotNull(await AdminUsers.FindAsync(app, id));
        Assert.Empty(await AdminUsers.EventsAboutAsync<UserDeleted>(app, id));
        Assert.Empty(app.TokenService.SessionRequests);

        var deleted = await AdminUsers.SendAsync(app, HttpMethod.Delete, "/auth/account", AdminUsers.UserToken(id, sid), new { password = AdminUsers.Password });

        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        Assert.Null(await AdminUsers.FindAsync(app, id));
        Assert.Equal(id, Assert.Single(await AdminUsers.EventsAboutAsync<UserDeleted>(app, id)).Actor);
        Assert.Equal(["/sessions", "/sessions/" + sid], app.TokenService.SessionRequests.Select(r => r.Path));
        await HttpAssert.IsProblemAsync(await app.LoginAsync(email, AdminUsers.Password), HttpStatusCode.Unauthorized);
    }
}

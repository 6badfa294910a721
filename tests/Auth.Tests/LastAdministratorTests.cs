using System.Net;
using Microsoft.EntityFrameworkCore;
using SecurePlatform.Auth.Model;
using SecurePlatform.Contracts;
using SecurePlatform.TestSupport;

namespace SecurePlatform.Auth.Tests;

public sealed class LastAdministratorAuthApp() : AuthApp("last_admin");

/// <summary>
/// The platform keeps one enabled administrator: the last one cannot be demoted, disabled or deleted (by another
/// administrator or by itself), and two administrators removing each other at the same moment leave one. Each test
/// starts from a database without administrators and makes the ones it needs.
/// </summary>
public class LastAdministratorTests(LastAdministratorAuthApp app) : IClassFixture<LastAdministratorAuthApp>, IAsyncLifetime
{
    private const int RaceRounds = 8;

    public async Task InitializeAsync()
    {
        app.TokenService.Reset();
        await app.WithDbAsync(db => db.UserRoles.Where(r => r.RoleId == RoleNames.AdminRoleId).ExecuteDeleteAsync());
    }

    public Task DisposeAsync() => Task.CompletedTask;

    private Task<int> ActiveAdminsAsync() => app.WithDbAsync(db => db.UserRoles
        .Where(r => r.RoleId == RoleNames.AdminRoleId)
        .Join(db.Users.Where(u => u.DisabledAt == null), r => r.UserId, u => u.Id, (r, _) => r.UserId)
        .CountAsync());

    [Fact]
    public async Task The_last_administrator_cannot_be_demoted_disabled_or_deleted_and_nothing_changes()
    {
        var (admin, email) = await AdminUsers.CreateAsync(app, "only-admin", admin: true);
        var token = AdminUsers.AdminToken(admin);
        var outboxBefore = (await app.CountRowsAsync()).Events;

        var attempts = new[]
        {
            await AdminUsers.SendAsync(app, HttpMethod.Put, $"/admin/users/{admin}/roles", token, new { roles = new[] { "user" } }),
            await AdminUsers.SendAsync(app, HttpMethod.Post, $"/admin/users/{admin}/disable", token, new { }),
            await AdminUsers.SendAsync(app, HttpMethod.Delete, $"/admin/users/{admin}", token),
            await AdminUsers.SendAsync(app, HttpMethod.Delete, "/auth/account", token, new { password = AdminUsers.Password }),
        };

        foreach (var response in attempts)
        {
            var problem = await HttpAssert.IsProblemAsync(response, HttpStatusCode.Conflict);
            Assert.Equal("last_administrator", problem.GetProperty("reason").GetString());
        }
        var user = await AdminUsers.FindAsync(app, admin);
        Assert.NotNull(user);
        Assert.False(user.IsDisabled);
        Assert.Equal([RoleNames.Admin, RoleNames.User], await AdminUsers.RolesAsync(app, admin));
        Assert.Equal(outboxBefore, (await app.CountRowsAsync()).Events);
        Assert.Empty(app.TokenService.SessionRequests);
        // What does not remove an administrator still works on the last one.
        Assert.Equal(HttpStatusCode.OK, (await AdminUsers.SendAsync(app, HttpMethod.Put, $"/admin/users/{admin}/roles", token, new { roles = new[] { "admin" } })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await app.LoginAsync(email, AdminUsers.Password)).StatusCode);
    }

    [Fact]
    public async Task A_disabled_administrator_does_not_count_so_the_enabled_one_stays()
    {
        var (first, _) = await AdminUsers.CreateAsync(app, "admin-a", admin: true);
        var (second, _) = await AdminUsers.CreateAsync(app, "admin-b", admin: true);

        Assert.Equal(HttpStatusCode.OK, (await AdminUsers.SendAsync(app, HttpMethod.Post, $"/admin/users/{second}/disable", AdminUsers.AdminToken(first), new { })).StatusCode);
        var refused = await AdminUsers.SendAsync(app, HttpMethod.Put, $"/admin/users/{first}/roles", AdminUsers.AdminToken(first), new { roles = new[] { "user" } });

        await HttpAssert.IsProblemAsync(refused, HttpStatusCode.Conflict);
        Assert.Equal(1, await ActiveAdminsAsync());
        // Enabling the other one again makes the first one free to step down.
        Assert.Equal(HttpStatusCode.OK, (await AdminUsers.SendAsync(app, HttpMethod.Post, $"/admin/users/{second}/enable", AdminUsers.AdminToken(first))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await AdminUsers.SendAsync(app, HttpMethod.Put, $"/admin/users/{first}/roles", AdminUsers.AdminToken(first), new { roles = new[] { "user" } })).StatusCode);
        Assert.Equal(1, await ActiveAdminsAsync());
    }

    /// <summary>
    /// Two administrators remove each other at the same moment, released together by a barrier: demote/demote, and
    /// disable/delete in alternate rounds. Each round exactly one succeeds, the other gets 409, one administrator remains
    /// and the refused change left its target untouched.
    /// </summary>
    [Fact]
    public async Task Two_administrators_removing_each_other_at_once_leave_exactly_one()
    {
        for (var round = 0; round < RaceRounds; round++)
        {
            await app.WithDbAsync(db => db.UserRoles.Where(r => r.RoleId == RoleNames.AdminRoleId).ExecuteDeleteAsync());
            var (a, _) = await AdminUsers.CreateAsync(app, "race-a", admin: true);
            var (b, _) = await AdminUsers.CreateAsync(app, "race-b", admin: true);
            var demoteEachOther = round % 2 == 0;
            using var barrier = new Barrier(2);

            Task<HttpResponseMessage> Remove(string actor, string target, bool first) => Task.Run(() =>
            {
                barrier.SignalAndWait();
                return demoteEachOther
                    ? AdminUsers.SendAsync(app, HttpMethod.Put, $"/admin/users/{target}/roles", AdminUsers.AdminToken(actor), new { roles = new[] { "user" } })
                    : first
                        ? AdminUsers.SendAsync(app, HttpMethod.Post, $"/admin/users/{target}/disable", AdminUsers.AdminToken(actor), new { })
                        : AdminUsers.SendAsync(app, HttpMethod.Delete, $"/admin/users/{target}", AdminUsers.AdminToken(actor));
            });
            var results = await Task.WhenAll(Remove(a, b, first: true), Remove(b, a, first: false));

            var statuses = results.Select(r => r.StatusCode).ToArray();
            Assert.Equal(1, statuses.Count(s => s is HttpStatusCode.OK or HttpStatusCode.NoContent));
            Assert.Equal(1, statuses.Count(s => s == HttpStatusCode.Conflict));
            Assert.Equal(1, await ActiveAdminsAsync());
            // The refused one's target is the one administrator left, exactly as before.
            var refusedTarget = results[0].StatusCode == HttpStatusCode.Conflict ? b : a;
            var survivor = await AdminUsers.FindAsync(app, refusedTarget);
            Assert.NotNull(survivor);
            Assert.False(survivor.IsDisabled);
            Assert.Contains(RoleNames.Admin, await AdminUsers.RolesAsync(app, refusedTarget));
            Assert.Empty(await AdminUsers.EventsAboutAsync<RoleRevoked>(app, refusedTarget));
            Assert.Empty(await AdminUsers.EventsAboutAsync<UserDisabled>(app, refusedTarget));
            Assert.Empty(await AdminUsers.EventsAboutAsync<UserDeleted>(app, refusedTarget));
        }
    }
}

using System.Net;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using SecurePlatform.Auth.Infrastructure;
using SecurePlatform.Auth.Model;
using SecurePlatform.TestSupport;

namespace SecurePlatform.Auth.Tests;

/// <summary>The initial administrator from Bootstrap:AdminEmail / Bootstrap:AdminPassword.</summary>
public class BootstrapTests
{
    private const string AdminPassword = "violet kettle 12 harbour";

    private static Dictionary<string, string?> Bootstrap(string? email, string? password) => new()
    {
        ["Bootstrap:AdminEmail"] = email,
        ["Bootstrap:AdminPassword"] = password,
    };

    private static async Task<AuthApp> StartAsync(string suffix, Dictionary<string, string?>? settings = null)
    {
        var app = new ConfiguredAuthApp(suffix, settings);
        await ((IAsyncLifetime)app).InitializeAsync();
        return app;
    }

    private static Task StopAsync(AuthApp app) => ((IAsyncLifetime)app).DisposeAsync();

    /// <summary>Runs the start-up step again, synchronously (as a restart would).</summary>
    private static Task RunBootstrapAsync(AuthApp app) =>
        app.Services.GetServices<IHostedService>().OfType<AdminBootstrapper>().Single().EnsureAdministratorAsync(CancellationToken.None);

    private static Task<List<string>> AdminEmailsAsync(AuthApp app) => app.WithDbAsync(db =>
        (from ur in db.UserRoles
         join u in db.Users on ur.UserId equals u.Id
         join r in db.Roles on ur.RoleId equals r.Id
         where r.Name == RoleNames.Admin
         select u.Email!).ToListAsync());

    [Fact]
    public async Task The_administrator_is_created_once_and_signs_in_without_the_admin_role_until_MFA_is_enrolled()
    {
        var email = AuthApp.NewEmail("admin");
        var app = await StartAsync("boot-once", Bootstrap(email.ToUpperInvariant(), AdminPassword));
        try
        {
            await Eventually.HoldsAsync(async () => (await AdminEmailsAsync(app)).Count == 1, TimeSpan.FromSeconds(20), "the administrator was created");
            await RunBootstrapAsync(app);

            Assert.Equal([email], await AdminEmailsAsync(app));
            Assert.Equal(1, await app.WithDbAsync(db => db.Users.CountAsync()));
            var login = await app.LoginAsync(email, AdminPassword);
            Assert.Equal(HttpStatusCode.OK, login.StatusCode);
            // Administrators MUST use MFA: the first, password-only sign-in may enrol, nothing more (MfaTests).
            Assert.Equal("user", Assert.Single(app.TokenService.TokenRequests).Form["roles"]);
            var registered = Assert.Single(await app.EventsAsync("UserRegistered"));
            Assert.DoesNotContain(AdminPassword, registered.Payload, StringComparison.Ordinal);
            var payload = System.Text.Json.JsonSerializer.Deserialize<System.Text.Json.JsonElement>(registered.Payload);
            Assert.Equal("auth-service", payload.GetProperty("actor").GetString());
            Assert.Single(await app.EventsAsync("RoleGranted"));
            app.KeepDatabase = true;
        }
        finally
        {
            await StopAsync(app);
        }

        // A restart with the same configuration finds the administrator and creates nothing.
        var restarted = await StartAsync("boot-once", Bootstrap(email, AdminPassword));
        try
        {
            await RunBootstrapAsync(restarted);
            Assert.Equal([email], await AdminEmailsAsync(restarted));
            Assert.Equal(1, await restarted.WithDbAsync(db => db.Users.CountAsync()));
        }
        finally
        {
            await StopAsync(restarted);
        }
    }

    [Theory]
    [InlineData(null, null)]
    [InlineData("admin@example.org", null)]
    [InlineData(null, AdminPassword)]
    [InlineData("admin@example.org", "password1234")]     // breaks the policy
    [InlineData("admin@example.org", "admin@example.org")] // the email as password
    [InlineData("not an address", AdminPassword)]
    public async Task No_administrator_without_a_complete_and_acceptable_configuration(string? email, string? password)
    {
        var app = await StartAsync("boot-none", Bootstrap(email, password));
        try
        {
            await RunBootstrapAsync(app);

            Assert.Empty(await AdminEmailsAsync(app));
            Assert.Equal(0, await app.WithDbAsync(db => db.Users.CountAsync()));
        }
        finally
        {
            await StopAsync(app);
        }
    }

    [Fact]
    public async Task An_existing_account_with_the_bootstrap_address_is_never_promoted()
    {
        var email = AuthApp.NewEmail("early");
        var first = await StartAsync("boot-taken");
        try
        {
            await first.RegisterAsync(email, "someone else's passphrase 7");
            first.KeepDatabase = true;
        }
        finally
        {
            await StopAsync(first);
        }

        var app = await StartAsync("boot-taken", Bootstrap(email, AdminPassword));
        try
        {
            await RunBootstrapAsync(app);

            Assert.Empty(await AdminEmailsAsync(app));
            Assert.Equal(HttpStatusCode.Unauthorized, (await app.LoginAsync(email, AdminPassword)).StatusCode);
        }
        finally
        {
            await StopAsync(app);
        }
    }
}

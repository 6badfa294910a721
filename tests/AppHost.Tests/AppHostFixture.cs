using System.Security.Cryptography;
using Aspire.Hosting;
using Aspire.Hosting.Testing;
using SecurePlatform.TestSupport;

namespace SecurePlatform.AppHost.Tests;

/// <summary>
/// The whole platform started through the AppHost (Aspire.Hosting.Testing), with the shared servers given as
/// connection strings (Infrastructure:Mode=existing): this run's own databases and the RabbitMQ vhost
/// ./test.sh made for it. Ports are the orchestrator's (randomised in tests), so a ./run.sh beside it is fine.
/// </summary>
public sealed class AppHostFixture : IAsyncLifetime
{
    public static readonly TimeSpan StartupTimeout = TimeSpan.FromSeconds(180);

    public const string AdminEmail = "admin@apphost.secureplatform.test";

    public static string AdminPassword { get; } = "Adm1n-" + Convert.ToHexString(RandomNumberGenerator.GetBytes(12));

    public static readonly string[] Services = ["auth-service", "token-service", "audit-service", "profile-service"];

    public DistributedApplication App { get; private set; } = null!;

    public Uri Auth { get; private set; } = null!;

    public Uri Token { get; private set; } = null!;

    public Uri Audit { get; private set; } = null!;

    public Uri Profile { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        using var timeout = new CancellationTokenSource(StartupTimeout);
        string[] args =
        [
            "Infrastructure:Mode=existing",
            .. new[] { "authdb", "tokendb", "auditdb", "profiledb" }
                .Select(db => $"ConnectionStrings:{db}={TestEnvironment.UniqueDatabase(db, "apphost")}"),
            $"ConnectionStrings:redis={TestEnvironment.ConnectionString("redis")}",
            $"ConnectionStrings:rabbitmq={TestEnvironment.ConnectionString("rabbitmq")}",
            $"Parameters:auth-client-secret={Convert.ToHexString(RandomNumberGenerator.GetBytes(24))}",
            $"Parameters:client-secret-hash-key={Convert.ToHexString(RandomNumberGenerator.GetBytes(24))}",
            $"Parameters:bootstrap-admin-email={AdminEmail}",
            $"Parameters:bootstrap-admin-password={AdminPassword}",
            // Budgets of this run only (the shared Redis also serves other runs' and developers' platforms).
            $"RateLimiting:KeyPrefix={TestEnvironment.RateLimitKeyPrefix("apphost")}",
        ];
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.AppHost>(
            args, (options, _) => options.DisableDashboard = true, timeout.Token);
        App = await builder.BuildAsync(timeout.Token);
        await App.StartAsync(timeout.Token);
        foreach (var service in Services)
        {
            await App.ResourceNotifications.WaitForResourceHealthyAsync(service, timeout.Token);
        }
        Auth = App.GetEndpoint("auth-service", "http");
        Token = App.GetEndpoint("token-service", "http");
        Audit = App.GetEndpoint("audit-service", "http");
        Profile = App.GetEndpoint("profile-service", "http");
    }

    public async Task DisposeAsync()
    {
        if (App is not null)
        {
            await App.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class AppHostCollection : ICollectionFixture<AppHostFixture>
{
    public const string Name = "apphost";
}

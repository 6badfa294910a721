using MassTransit;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace SecurePlatform.TestSupport;

/// <summary>
/// One of the platform's services in process, against the real servers: a database of its own for this run
/// (<c>&lt;db&gt;_&lt;run&gt;_&lt;suffix&gt;</c>, dropped at dispose unless kept), the run's Redis and RabbitMQ vhost,
/// settings layered over those defaults. The per-service factories add only what is theirs.
/// </summary>
public abstract class ServiceFactory<TProgram, TDbContext> : WebApplicationFactory<TProgram>
    where TProgram : class
    where TDbContext : DbContext
{
    private readonly Dictionary<string, string?> _settings;

    protected ServiceFactory(
        string database, string databaseSuffix, IReadOnlyDictionary<string, string?>? settings = null, IReadOnlyDictionary<string, string>? infra = null)
    {
        DatabaseConnectionString = TestEnvironment.UniqueDatabase(database, databaseSuffix, infra);
        _settings = new Dictionary<string, string?>
        {
            [$"ConnectionStrings:{database}"] = DatabaseConnectionString,
            ["ConnectionStrings:redis"] = infra?["redis"] ?? TestEnvironment.ConnectionString("redis"),
            ["ConnectionStrings:rabbitmq"] = infra?["rabbitmq"] ?? TestEnvironment.ConnectionString("rabbitmq"),
            ["Logging:LogLevel:Default"] = "Warning",
            // No token-service replays revocations into this Redis for a service tested on its own.
            ["Auth:Revocation:RequireCompleteMarker"] = "false",
        };
        // Budgets of this instance only, far above what its tests send; throttle tests set small ones (and a shared prefix).
        foreach (var (key, value) in TestEnvironment.GenerousRateLimits(TestEnvironment.RateLimitKeyPrefix(databaseSuffix)))
        {
            _settings[key] = value;
        }
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            _settings[key] = value;
        }
    }

    /// <summary>The database owner's connection string for this instance's own database.</summary>
    public string DatabaseConnectionString { get; }

    /// <summary>Leave the database for another instance (a restart) instead of dropping it at dispose.</summary>
    public bool KeepDatabase { get; set; }

    public string? Setting(string key) => _settings.GetValueOrDefault(key);

    /// <summary>Sets a default unless the test's own settings named it already.</summary>
    protected void Default(string key, string? value) => _settings.TryAdd(key, value);

    protected virtual string EnvironmentName => "Development";

    /// <summary>Service replacements of this factory (test signing keys, say).</summary>
    protected virtual void ConfigureTestServices(IServiceCollection services)
    {
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment(EnvironmentName);
        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }
        builder.ConfigureTestServices(ConfigureTestServices);
    }

    public T WithDb<T>(Func<TDbContext, T> work)
    {
        using var scope = Services.CreateScope();
        return work(scope.ServiceProvider.GetRequiredService<TDbContext>());
    }

    public async Task<T> WithDbAsync<T>(Func<TDbContext, Task<T>> work)
    {
        await using var scope = Services.CreateAsyncScope();
        return await work(scope.ServiceProvider.GetRequiredService<TDbContext>());
    }

    /// <summary>Waits until the service's bus is connected and its queue consuming (publish only after that).</summary>
    public Task WaitForBusAsync(TimeSpan? timeout = null)
    {
        var bus = Services.GetRequiredService<IBusControl>();
        return BusReadiness.WaitAsync(bus, timeout);
    }

    public override async ValueTask DisposeAsync()
    {
        try
        {
            if (!KeepDatabase)
            {
                await using var scope = Services.CreateAsyncScope();
                await scope.ServiceProvider.GetRequiredService<TDbContext>().Database.EnsureDeletedAsync();
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or Npgsql.NpgsqlException or Microsoft.Extensions.Options.OptionsValidationException)
        {
            // never started, refused to (a start-up validation test), or its server is down (a fault test):
            // the run's clean-up drops the database
        }
        await base.DisposeAsync();
        GC.SuppressFinalize(this);
    }
}

public static class BusReadiness
{
    public static Task WaitAsync(IBusControl bus, TimeSpan? timeout = null) =>
        Eventually.HoldsAsync(() => Task.FromResult(bus.CheckHealth().Status == BusHealthStatus.Healthy), timeout ?? TimeSpan.FromSeconds(60), "bus healthy");
}

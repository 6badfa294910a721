using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace SecurePlatform.ServiceDefaults.Data;

/// <summary>
/// Applies EF Core migrations before the service takes traffic: always in Development, elsewhere when
/// <c>Database:MigrateOnStartup=true</c>. <c>Database:MigrateOnly=true</c> migrates and exits (the documented
/// one-off Production step: <c>dotnet Auth.Api.dll --Database:MigrateOnly=true</c>).
/// </summary>
internal sealed class DatabaseMigrator<TContext>(
    IServiceProvider services,
    MigrationDataSource<TContext> migrationDataSource,
    IConfiguration configuration,
    IHostEnvironment environment,
    IHostApplicationLifetime lifetime,
    ILogger<DatabaseMigrator<TContext>> logger) : IHostedService where TContext : DbContext
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var migrateOnly = configuration.GetValue<bool>("Database:MigrateOnly");
        if (!migrateOnly && !environment.IsDevelopment() && !configuration.GetValue<bool>("Database:MigrateOnStartup"))
        {
            return;
        }
        using var activity = Microsoft.Extensions.Hosting.Telemetry.Source.StartActivity($"Migrate {typeof(TContext).Name}");
        await using var scope = services.CreateAsyncScope();
        // The owner's data source, not the runtime one (which may have dropped privileges).
        var options = new DbContextOptionsBuilder<TContext>();
        DataExtensions.ConfigureNpgsql(options, migrationDataSource.DataSource);
        await using var db = ActivatorUtilities.CreateInstance<TContext>(scope.ServiceProvider, options.Options);
        var pending = (await db.Database.GetPendingMigrationsAsync(cancellationToken)).ToList();
        if (pending.Count > 0)
        {
            logger.LogInformation("Applying {Count} migration(s) to {Context}: {Migrations}", pending.Count, typeof(TContext).Name, string.Join(", ", pending));
            await db.Database.MigrateAsync(cancellationToken);
        }
        if (migrateOnly)
        {
            logger.LogInformation("Database:MigrateOnly is set: migrations applied, stopping.");
            lifetime.StopApplication();
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>The data source migrations of <typeparamref name="TContext"/> run on (the connection's own user).</summary>
internal sealed record MigrationDataSource<TContext>(Npgsql.NpgsqlDataSource DataSource) where TContext : DbContext;

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
    IConfiguration configuration,
    IHostEnvironment environment,
    IHostApplicationLifetime lifetime,
    ILogger<DatabaseMigrator<TContext>> logger,
    MigrationDataSource<TContext>? migrationDataSource = null) : IHostedService where TContext : DbContext
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
        // With a data-source hook (e.g. SET ROLE), migrate on the unmodified owner data source instead.
        await using var ownContext = migrationDataSource is null ? null : CreateOwnerContext(scope.ServiceProvider, migrationDataSource);
        var db = ownContext ?? scope.ServiceProvider.GetRequiredService<TContext>();
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

    private static TContext CreateOwnerContext(IServiceProvider services, MigrationDataSource<TContext> migrationDataSource)
    {
        var options = new DbContextOptionsBuilder<TContext>();
        DataExtensions.ConfigureNpgsql(options, migrationDataSource.DataSource);
        return ActivatorUtilities.CreateInstance<TContext>(services, options.Options);
    }
}

/// <summary>The data source migrations of <typeparamref name="TContext"/> run on (the connection's own user).</summary>
internal sealed record MigrationDataSource<TContext>(Npgsql.NpgsqlDataSource DataSource) where TContext : DbContext;

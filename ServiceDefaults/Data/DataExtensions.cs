using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;
using SecurePlatform.ServiceDefaults.Data;
using SecurePlatform.ServiceDefaults.Health;
using SecurePlatform.ServiceDefaults.Security;
using StackExchange.Redis;

namespace Microsoft.Extensions.Hosting;

public static class DataExtensions
{
    /// <summary>
    /// Registers <typeparamref name="TContext"/> on PostgreSQL from <c>ConnectionStrings:{connectionName}</c>
    /// (the name the AppHost injects), enriched by Aspire's client integration
    /// (<c>Aspire.Npgsql.EntityFrameworkCore.PostgreSQL</c>: <c>EnrichNpgsqlDbContext</c>, tracing, metrics, settings
    /// under <c>Aspire:Npgsql:EntityFrameworkCore:PostgreSQL</c>), plus what the platform adds on top: a readiness
    /// check named after the connection (<c>AspNetCore.HealthChecks.NpgSql</c>, <c>SELECT 1</c> on the service's
    /// own data source), prepared statements, start-up migration (Development, or
    /// <c>Database:MigrateOnStartup=true</c>) and the Production secret check.
    /// Aspire's <c>AddNpgsqlDbContext</c> is not used because it builds the context from the connection string:
    /// the platform needs its own <see cref="NpgsqlDataSource"/> (prepared statements, audit-service's <c>SET ROLE</c>).
    /// <paramref name="configureDataSource"/> adjusts the runtime data source (keyed <paramref name="connectionName"/>),
    /// e.g. a physical-connection initializer that lowers privileges with <c>SET ROLE</c>; migrations then run on a
    /// separate, unmodified data source with the connection's own rights.
    /// </summary>
    public static IHostApplicationBuilder AddPlatformDbContext<TContext>(
        this IHostApplicationBuilder builder,
        string connectionName,
        Action<NpgsqlDataSourceBuilder>? configureDataSource = null)
        where TContext : DbContext
    {
        var connectionString = builder.GetRequiredConnectionString(connectionName);
        var dataSourceBuilder = new NpgsqlDataSourceBuilder(connectionString) { Name = connectionName };
        PrepareRepeatedStatements(dataSourceBuilder.ConnectionStringBuilder);
        configureDataSource?.Invoke(dataSourceBuilder);
        var dataSource = dataSourceBuilder.Build();
        builder.Services.AddKeyedSingleton(connectionName, dataSource);
        if (configureDataSource is not null)
        {
            builder.Services.AddSingleton(new MigrationDataSource<TContext>(
                new NpgsqlDataSourceBuilder(connectionString) { Name = connectionName + "-migrations" }.Build()));
        }
        // Pooled: OpenIddict resolves stores (and so a context) for most token requests even when it reads
        // nothing; building a context per request showed up in token-service's CPU profile.
        // More options (the outbox's commit interceptor, from the Messaging project) are layered on with EF Core's
        // ConfigureDbContext<TContext>, so this stays free of what only some services use.
        builder.Services.AddDbContextPool<TContext>(options => ConfigureNpgsql(options, dataSource));

        // Retries off: the services open explicit transactions (outbox, idempotent consumers, key rotation), which
        // a retrying execution strategy refuses. Aspire's DbContext check off: ours below runs a query on the
        // service's data source (opening a pooled connection alone would not notice a server that went away).
        builder.EnrichNpgsqlDbContext<TContext>(settings =>
        {
            settings.DisableRetry = true;
            settings.DisableHealthChecks = true;
        });
        builder.Services.AddHealthChecks().AddNpgSql(
            sp => sp.GetRequiredKeyedService<NpgsqlDataSource>(connectionName),
            name: connectionName, tags: [HealthTags.Ready], timeout: TimeSpan.FromSeconds(5));

        builder.Services.AddRequiredSecret($"ConnectionStrings:{connectionName}", SecretFormat.NpgsqlConnectionString);
        builder.Services.AddHostedService<DatabaseMigrator<TContext>>();
        return builder;
    }

    /// <summary>
    /// The Redis client from Aspire's integration (<c>Aspire.StackExchange.Redis</c>, <c>AddRedisClient</c>): one
    /// <see cref="IConnectionMultiplexer"/> from <c>ConnectionStrings:{connectionName}</c> (<c>host:port,password=…[,ssl=true]</c>)
    /// that never fails start-up when Redis is down (<c>AbortOnConnectFail=false</c>), with tracing. On top: the
    /// readiness check under the connection's name (<c>AspNetCore.HealthChecks.Redis</c>, the check Aspire would add
    /// as <c>StackExchange.Redis</c>) and the Production secret check.
    /// </summary>
    public static IHostApplicationBuilder AddPlatformRedis(this IHostApplicationBuilder builder, string connectionName = "redis")
    {
        builder.GetRequiredConnectionString(connectionName);
        builder.AddRedisClient(connectionName,
            settings => settings.DisableHealthChecks = true,
            options =>
            {
                options.ClientName = builder.Environment.ApplicationName;
                options.AbortOnConnectFail = false;
                // Reconnect attempts every 500 ms, not the default exponential back-off (up to 10 s between attempts
                // after a long outage): readiness and the revocation check recover within about a second of Redis's return.
                options.ReconnectRetryPolicy = new LinearRetry(500);
            });
        builder.Services.AddHealthChecks().AddRedis(
            sp => sp.GetRequiredService<IConnectionMultiplexer>(),
            name: connectionName, tags: [HealthTags.Ready], timeout: TimeSpan.FromSeconds(5));
        builder.Services.AddRequiredSecret($"ConnectionStrings:{connectionName}", SecretFormat.RedisConnectionString);
        return builder;
    }

    /// <summary>
    /// A service runs the same few statements over and over (sign-in, refresh, outbox), so they are prepared once
    /// per physical connection instead of parsed and planned on every use (saving PostgreSQL CPU on every sign-in;
    /// see bench/README.md). No pool reset: DISCARD ALL would drop the prepared statements. Safe because no service leaves
    /// session state on a pooled connection (SET, LISTEN, temporary tables, session-level advisory locks): the
    /// only SET is audit-service's SET ROLE, which is meant to stay for the connection's life.
    /// </summary>
    internal static void PrepareRepeatedStatements(NpgsqlConnectionStringBuilder connection)
    {
        connection.MaxAutoPrepare = 32;
        connection.AutoPrepareMinUsages = 2;
        connection.NoResetOnClose = true;
    }

    /// <summary>The EF Core options every context shares (also used for the migration context).</summary>
    internal static DbContextOptionsBuilder ConfigureNpgsql(DbContextOptionsBuilder options, NpgsqlDataSource dataSource) => options
        .UseNpgsql(dataSource, npgsql => npgsql.MigrationsHistoryTable("__ef_migrations_history"))
        .UseSnakeCaseNamingConvention();

    /// <summary><c>ConnectionStrings:{connectionName}</c>; a missing one stops start-up with a message that says how to set it.</summary>
    public static string GetRequiredConnectionString(this IHostApplicationBuilder builder, string connectionName)
    {
        var value = builder.Configuration.GetConnectionString(connectionName);
        if (string.IsNullOrWhiteSpace(value))
        {
            throw new InvalidOperationException(
                $"ConnectionStrings:{connectionName} is not set. Run the platform with ./run.sh (local servers) or " +
                "the Aspire AppHost, or set ConnectionStrings__" + connectionName + " (see README).");
        }
        return value;
    }
}

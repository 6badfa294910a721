using System.Diagnostics;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using SecurePlatform.Contracts;
using SecurePlatform.Messaging;

namespace SecurePlatform.Bench.AuditIngest;

public sealed class BenchProducerDbContext(DbContextOptions<BenchProducerDbContext> options) : DbContext(options)
{
    protected override void OnModelCreating(ModelBuilder modelBuilder) => modelBuilder.AddIntegrationEventTables();
}

/// <summary>
/// A producer as the services are built: a database with the platform's outbox tables, the platform's messaging
/// and the real <c>OutboxDispatcher</c>. Writers commit events to its outbox (what a sign-in does next to its
/// state change); the dispatcher publishes them in batches. "Published" here means the outbox row committed.
/// </summary>
public sealed class BenchProducer : IAsyncDisposable
{
    private readonly IHost _host;
    private readonly string _connectionString;
    private long _written;
    private long _created;

    private BenchProducer(IHost host, string connectionString)
    {
        _host = host;
        _connectionString = connectionString;
    }

    /// <summary>Events whose outbox rows have committed.</summary>
    public long Written => Interlocked.Read(ref _written);

    public string DatabaseName => new NpgsqlConnectionStringBuilder(_connectionString).Database!;

    public static async Task<BenchProducer> StartAsync(string connectionString, string rabbit, int batchSize)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = "Development", ApplicationName = "bench-producer" });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:producerdb"] = connectionString,
            ["ConnectionStrings:rabbitmq"] = rabbit,
            ["Outbox:BatchSize"] = batchSize.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Logging:LogLevel:Default"] = "Warning",
        });
        builder.AddPlatformDbContext<BenchProducerDbContext>("producerdb");
        builder.AddMessaging();
        builder.AddOutboxDispatcher<BenchProducerDbContext>();
        var host = builder.Build();
        await using (var scope = host.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<BenchProducerDbContext>();
            await db.Database.EnsureDeletedAsync();
            await db.Database.EnsureCreatedAsync();
        }
        await host.StartAsync();
        return new BenchProducer(host, connectionString);
    }

    /// <summary>
    /// <paramref name="writers"/> tasks commit events for <paramref name="duration"/> (or until <paramref name="limit"/>
    /// events), paced to <paramref name="rate"/> events/s in total (0: as fast as they can). A writer sleeps until
    /// its next event is due and then commits every event due by then, at most <paramref name="perCommit"/>: like
    /// concurrent requests, each commit holds one event when commits are fast and several when they are slow.
    /// </summary>
    public Task WriteAsync(int writers, double rate, int perCommit, TimeSpan duration, Func<long, IntegrationEvent> create, long limit = long.MaxValue) =>
        Task.WhenAll(Enumerable.Range(0, writers).Select(_ => Task.Run(async () =>
        {
            var perWriter = rate / writers;
            var clock = Stopwatch.StartNew();
            long mine = 0;
            while (clock.Elapsed < duration)
            {
                var due = rate > 0 ? (long)(clock.Elapsed.TotalSeconds * perWriter) - mine : perCommit;
                if (due <= 0)
                {
                    var next = TimeSpan.FromSeconds((mine + 1) / perWriter) - clock.Elapsed;
                    await Task.Delay(next > TimeSpan.FromMilliseconds(1) ? next : TimeSpan.FromMilliseconds(1));
                    continue;
                }
                var count = (int)Math.Min(due, perCommit);
                var first = Interlocked.Add(ref _created, count) - count;
                if (first >= limit)
                {
                    return;
                }
                count = (int)Math.Min(count, limit - first);
                await using var scope = _host.Services.CreateAsyncScope();
                var db = scope.ServiceProvider.GetRequiredService<BenchProducerDbContext>();
                for (var i = 1; i <= count; i++)
                {
                    db.AddIntegrationEvent(create(first + i));
                }
                await db.SaveChangesAsync();
                Interlocked.Add(ref _written, count);
                mine += count;
            }
        })));

    /// <summary>Outbox rows not yet confirmed by the broker.</summary>
    public async Task<long> PendingAsync()
    {
        await using var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT count(*) FROM outbox_messages WHERE sent_at IS NULL AND error IS NULL", connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
        NpgsqlConnection.ClearAllPools();
        var admin = new NpgsqlConnectionStringBuilder(_connectionString) { Database = "postgres" }.ConnectionString;
        await using var connection = new NpgsqlConnection(admin);
        await connection.OpenAsync();
        await new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{DatabaseName}\" WITH (FORCE)", connection).ExecuteNonQueryAsync();
    }
}

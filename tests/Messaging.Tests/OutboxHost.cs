using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using SecurePlatform.Contracts;
using SecurePlatform.TestSupport;

namespace SecurePlatform.Messaging.Tests;

public sealed record WidgetCreated : IntegrationEvent
{
    public string Name { get; init; } = "";
}

public sealed class Widget
{
    public int Id { get; set; }

    public string Name { get; set; } = "";
}

/// <summary>What the consumer saw: one row per handled event.</summary>
public sealed class ReceivedWidget
{
    public Guid EventId { get; set; }

    public string Name { get; set; } = "";
}

public sealed class WidgetDbContext(DbContextOptions<WidgetDbContext> options) : DbContext(options)
{
    public DbSet<Widget> Widgets => Set<Widget>();

    public DbSet<ReceivedWidget> Received => Set<ReceivedWidget>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.AddIntegrationEventTables();
        modelBuilder.Entity<ReceivedWidget>().HasKey(r => r.EventId);
    }
}

public sealed class WidgetCreatedConsumer(WidgetDbContext db) : IdempotentConsumer<WidgetCreated, WidgetDbContext>(db)
{
    protected override Task HandleAsync(WidgetCreated message, CancellationToken cancellationToken)
    {
        Db.Received.Add(new ReceivedWidget { EventId = message.EventId, Name = message.Name });
        return Task.CompletedTask;
    }
}

/// <summary>Every batch message the host's bus saw on a queue of its own, in arrival order: what the outbox published.</summary>
public sealed class BatchLog
{
    public System.Collections.Concurrent.ConcurrentQueue<IntegrationEventBatch> Batches { get; } = new();
}

public sealed class BatchProbeConsumer(BatchLog log) : IConsumer<IntegrationEventBatch>
{
    public Task Consume(ConsumeContext<IntegrationEventBatch> context)
    {
        log.Batches.Enqueue(context.Message);
        return Task.CompletedTask;
    }
}

/// <summary>
/// A real host with the platform's registration helpers: its own database and queue names, the outbox
/// dispatcher and an idempotent consumer, against the given servers.
/// </summary>
public sealed class OutboxHost : IAsyncDisposable
{
    private OutboxHost(IHost host) => Host = host;

    public IHost Host { get; }

    public static async Task<OutboxHost> StartAsync(IReadOnlyDictionary<string, string> infra, string name, IReadOnlyDictionary<string, string?>? settings = null)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            EnvironmentName = "Testing",
            ApplicationName = $"outbox-{name}-{TestEnvironment.RunId}",
        });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:widgetdb"] = TestEnvironment.UniqueDatabase("postgres", name, infra),
            ["ConnectionStrings:rabbitmq"] = infra["rabbitmq"],
            ["Outbox:PublishTimeout"] = "00:00:03",
            ["Logging:LogLevel:Default"] = "Warning",
        });
        builder.Configuration.AddInMemoryCollection(settings ?? new Dictionary<string, string?>());
        builder.AddPlatformDbContext<WidgetDbContext>("widgetdb");
        builder.Services.AddSingleton<BatchLog>();
        builder.AddMessaging(bus =>
        {
            // A test-only event: not in the catalogue, so named here (nothing scans for event types).
            bus.AddIntegrationEventTypes(typeof(WidgetCreated));
            bus.AddIntegrationEventConsumer<WidgetCreatedConsumer>();
            // One message at a time, so the log holds batches in the order the broker delivered them (publish order).
            bus.AddConsumer<BatchProbeConsumer>().Endpoint(e =>
            {
                e.PrefetchCount = 1;
                e.ConcurrentMessageLimit = 1;
            });
        });
        builder.AddOutboxDispatcher<WidgetDbContext>();
        var host = builder.Build();
        await using (var scope = host.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<WidgetDbContext>();
            await db.Database.EnsureDeletedAsync();
            await db.Database.EnsureCreatedAsync();
        }
        await host.StartAsync();
        return new OutboxHost(host);
    }

    public async Task<T> WithDbAsync<T>(Func<WidgetDbContext, Task<T>> work)
    {
        await using var scope = Host.Services.CreateAsyncScope();
        return await work(scope.ServiceProvider.GetRequiredService<WidgetDbContext>());
    }

    public BatchLog Log => Host.Services.GetRequiredService<BatchLog>();

    public string QueueName => Host.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<IntegrationEventEndpointOptions>>().Value.QueueName!;

    public Task WaitForBusAsync() => BusReadiness.WaitAsync(Host.Services.GetRequiredService<IBusControl>(), TimeSpan.FromSeconds(30));

    public async ValueTask DisposeAsync()
    {
        await WithDbAsync(async db => await db.Database.EnsureDeletedAsync());
        await Host.StopAsync();
        Host.Dispose();
    }
}

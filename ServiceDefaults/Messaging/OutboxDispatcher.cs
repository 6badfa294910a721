using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SecurePlatform.Contracts;

namespace SecurePlatform.ServiceDefaults.Messaging;

public sealed class OutboxOptions
{
    /// <summary>Rows read and published per transaction.</summary>
    public int BatchSize { get; set; } = 100;

    /// <summary>Safety-net poll when no commit signal arrives (another replica wrote the rows, say).</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long one publish may wait for the broker's confirm before the batch is retried later.</summary>
    public TimeSpan PublishTimeout { get; set; } = TimeSpan.FromSeconds(10);

    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromSeconds(10);
}

/// <summary>
/// Publishes committed outbox rows in insertion order with publisher confirms, and marks them sent in the
/// same transaction that locked them (<c>FOR UPDATE SKIP LOCKED</c>, so replicas never publish a row twice
/// concurrently). A broker outage only delays events: rows stay until the broker confirms. A crash between
/// confirm and commit republishes with the same message id, which consumers de-duplicate.
/// </summary>
internal sealed partial class OutboxDispatcher<TContext>(
    IServiceScopeFactory scopes,
    IBus bus,
    OutboxSignal signal,
    IOptions<OutboxOptions> options,
    ILogger<OutboxDispatcher<TContext>> logger) : BackgroundService where TContext : DbContext
{
    private readonly OutboxOptions _options = options.Value;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var failures = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var published = await DispatchBatchAsync(stoppingToken);
                failures = 0;
                if (published < _options.BatchSize)
                {
                    await signal.WaitAsync(_options.PollInterval, stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                failures++;
                var delay = TimeSpan.FromMilliseconds(Math.Min(_options.MaxBackoff.TotalMilliseconds, 250 * Math.Pow(2, Math.Min(failures, 10))));
                LogDispatchFailed(ex.GetType().Name, failures, delay.TotalMilliseconds);
                try
                {
                    await Task.Delay(delay, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>Publishes one batch; returns how many rows were published.</summary>
    internal async Task<int> DispatchBatchAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TContext>();
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var rows = await db.Set<OutboxMessage>()
            .FromSql($"SELECT * FROM outbox_messages WHERE sent_at IS NULL AND error IS NULL ORDER BY sequence LIMIT {_options.BatchSize} FOR UPDATE SKIP LOCKED")
            .ToListAsync(cancellationToken);
        if (rows.Count == 0)
        {
            return 0;
        }

        var published = 0;
        Exception? failure = null;
        foreach (var row in rows)
        {
            var type = IntegrationEventTypes.Resolve(row.Type);
            if (type is null)
            {
                row.Error = "unknown event type";
                LogUnknownType(row.EventId, row.Type);
                continue;
            }
            try
            {
                await PublishAsync(row, type, cancellationToken);
                row.SentAt = DateTimeOffset.UtcNow;
                row.Attempts++;
                published++;
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                // Keep order: stop at the first row the broker did not confirm; it is retried after a back-off.
                row.Attempts++;
                failure = ex;
                break;
            }
        }
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        if (failure is not null)
        {
            throw new OutboxPublishException(failure);
        }
        return published;
    }

    private async Task PublishAsync(OutboxMessage row, Type type, CancellationToken cancellationToken)
    {
        var message = JsonSerializer.Deserialize(row.Payload, type, JsonSerializerOptions.Web)!;
        ActivityContext.TryParse(row.TraceParent, null, out var parent);
        using var activity = Microsoft.Extensions.Hosting.Telemetry.Source.StartActivity($"outbox publish {type.Name}", ActivityKind.Producer, parent);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.PublishTimeout);
        await bus.Publish(message, type, context => context.MessageId = row.EventId, timeout.Token);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outbox dispatch failed ({ErrorType}), attempt {Attempt}; retrying in {DelayMs} ms")]
    private partial void LogDispatchFailed(string errorType, int attempt, double delayMs);

    [LoggerMessage(Level = LogLevel.Error, Message = "Outbox row {EventId} has unknown type {Type}; it will not be published")]
    private partial void LogUnknownType(Guid eventId, string type);
}

internal sealed class OutboxPublishException(Exception inner) : Exception("The broker did not confirm an outbox message.", inner);

/// <summary>Resolves stored type names, but only to <see cref="IntegrationEvent"/> types (never arbitrary types).</summary>
public static class IntegrationEventTypes
{
    private static readonly ConcurrentDictionary<string, Type?> Cache = new();

    public static Type? Resolve(string fullName) => Cache.GetOrAdd(fullName, static name =>
        AppDomain.CurrentDomain.GetAssemblies()
            .Where(a => !a.IsDynamic)
            .Select(a => a.GetType(name, throwOnError: false))
            .FirstOrDefault(t => t is not null && t.IsSubclassOf(typeof(IntegrationEvent)) && !t.IsAbstract));
}

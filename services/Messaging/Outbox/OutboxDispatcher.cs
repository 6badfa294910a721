using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SecurePlatform.Contracts;
using SecurePlatform.ServiceDefaults.Resilience;

namespace SecurePlatform.Messaging;

public sealed class OutboxOptions
{
    /// <summary>
    /// Rows read per transaction and published together as one batch message at most. Under load a round's cost
    /// hardly depends on its size, so a large cap is what lets the dispatcher keep up on busy cores (the audit
    /// ingest runs in bench/README.md measured it).
    /// </summary>
    public int BatchSize { get; set; } = 1000;

    /// <summary>Safety-net poll when no commit signal arrives (another replica wrote the rows, say).</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long one batch publish may wait for the broker's confirm before it is retried later.</summary>
    public TimeSpan PublishTimeout { get; set; } = TimeSpan.FromSeconds(10);

    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a sent row is kept (for inspection) before it is deleted; unsent rows are never deleted.</summary>
    public TimeSpan SentRetention { get; set; } = TimeSpan.FromDays(1);

    /// <summary>How often sent rows older than <see cref="SentRetention"/> are deleted.</summary>
    public TimeSpan CleanupInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// At shutdown, how long the dispatcher may keep publishing what requests committed (the web server has stopped
    /// and drained by then). Whatever is left stays in the outbox and is published after the next start.
    /// </summary>
    public TimeSpan ShutdownFlushTimeout { get; set; } = TimeSpan.FromSeconds(5);

    public static IEnumerable<string> Validate(OutboxOptions o) => OptionsRule.Failures(
        OptionsRule.AtLeast(o.BatchSize, 1, "Outbox:BatchSize"),
        OptionsRule.Positive(o.PollInterval, "Outbox:PollInterval"),
        OptionsRule.Positive(o.PublishTimeout, "Outbox:PublishTimeout"),
        OptionsRule.Positive(o.MaxBackoff, "Outbox:MaxBackoff"),
        OptionsRule.NotNegative(o.SentRetention, "Outbox:SentRetention"),
        OptionsRule.Positive(o.CleanupInterval, "Outbox:CleanupInterval"),
        OptionsRule.NotNegative(o.ShutdownFlushTimeout, "Outbox:ShutdownFlushTimeout"));
}

/// <summary>
/// Publishes committed outbox rows in insertion order with publisher confirms, and marks them sent in the
/// same transaction that locked them (<c>FOR UPDATE SKIP LOCKED</c>, so replicas never publish a row twice
/// concurrently). Each round's pending rows (up to <see cref="OutboxOptions.BatchSize"/>) go out as one
/// <see cref="IntegrationEventBatch"/> message: one row at low load, larger batches under load. A broker outage
/// only delays events: rows stay until the broker confirms. A crash between confirm and commit republishes the
/// same events (the same rows give the same message id); consumers de-duplicate each event by its id.
/// </summary>
internal sealed partial class OutboxDispatcher<TContext>(
    IServiceScopeFactory scopes,
    IBus bus,
    OutboxSignal signal,
    IntegrationEventTypes types,
    IOptions<OutboxOptions> options,
    ILogger<OutboxDispatcher<TContext>> logger) : BackgroundService where TContext : DbContext
{
    private readonly OutboxOptions _options = options.Value;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Any failure of a round (database or broker) is waited out; the same rows are retried in order.
        var retry = BackoffRetry.Create(TimeSpan.FromMilliseconds(250), _options.MaxBackoff, retryOn: _ => true,
            onRetry: (ex, attempt, delay) => LogDispatchFailed(ex.GetType().Name, attempt, delay.TotalMilliseconds));
        var nextCleanup = DateTimeOffset.UtcNow + _options.CleanupInterval;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                var published = await retry.ExecuteAsync(async ct =>
                {
                    if (DateTimeOffset.UtcNow >= nextCleanup)
                    {
                        nextCleanup = DateTimeOffset.UtcNow + _options.CleanupInterval;
                        await DeleteSentRowsAsync(ct);
                    }
                    return await DispatchBatchAsync(ct);
                }, stoppingToken);
                if (published < _options.BatchSize)
                {
                    await signal.WaitAsync(_options.PollInterval, stoppingToken);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// Stops the loop, then publishes the rows still pending within <see cref="OutboxOptions.ShutdownFlushTimeout"/>.
    /// The host stops the web server first (its requests have finished) and the bus after this, so what a completed
    /// request committed goes out now rather than at the next start.
    /// </summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        using var budget = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        budget.CancelAfter(_options.ShutdownFlushTimeout);
        var flushed = 0;
        try
        {
            int published;
            while ((published = await DispatchBatchAsync(budget.Token)) > 0)
            {
                flushed += published;
            }
            LogFlushed(flushed);
        }
        catch (Exception ex)
        {
            // The rows stay in the outbox, unsent: the next start publishes them.
            LogFlushIncomplete(flushed, ex.GetType().Name);
        }
    }

    /// <summary>
    /// Deletes sent rows past their retention, a bounded chunk at a time, so the table (and every dispatch
    /// round's index scan) stays the size of the recent traffic instead of growing with every event ever sent.
    /// </summary>
    internal async Task<int> DeleteSentRowsAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TContext>();
        var cutoff = DateTimeOffset.UtcNow - _options.SentRetention;
        var deleted = 0;
        int chunk;
        do
        {
            chunk = await db.Database.ExecuteSqlAsync(
                $"DELETE FROM outbox_messages WHERE sequence IN (SELECT sequence FROM outbox_messages WHERE sent_at < {cutoff} LIMIT 5000)", cancellationToken);
            deleted += chunk;
        }
        while (chunk == 5000);
        return deleted;
    }

    /// <summary>Publishes one round's pending rows as one batch message; returns how many rows were published.</summary>
    internal async Task<int> DispatchBatchAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TContext>();
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var rows = await db.Set<OutboxMessage>()
            .FromSql($"SELECT * FROM outbox_messages WHERE sent_at IS NULL AND error IS NULL ORDER BY sequence LIMIT {_options.BatchSize} FOR UPDATE SKIP LOCKED")
            .AsNoTracking()
            .ToListAsync(cancellationToken);
        if (rows.Count == 0)
        {
            return 0;
        }

        var unknown = rows.Where(r => types.Resolve(r.Type) is null).ToList();
        foreach (var row in unknown)
        {
            LogUnknownType(row.EventId, row.Type);
        }
        if (unknown.Count > 0)
        {
            var unknownSequences = unknown.Select(r => r.Sequence).ToArray();
            await db.Database.ExecuteSqlAsync(
                $"UPDATE outbox_messages SET error = 'unknown event type' WHERE sequence = ANY({unknownSequences})", cancellationToken);
        }

        var batch = rows.Except(unknown).ToList();
        var sequences = batch.Select(r => r.Sequence).ToArray();
        Exception? failure = null;
        if (batch.Count > 0)
        {
            try
            {
                await PublishAsync(batch, cancellationToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                // Nothing of the round counts as sent; the same rows are retried, in order, after a back-off.
                failure = ex;
            }
            await (failure is null
                ? db.Database.ExecuteSqlAsync($"UPDATE outbox_messages SET sent_at = {DateTimeOffset.UtcNow}, attempts = attempts + 1 WHERE sequence = ANY({sequences})", cancellationToken)
                : db.Database.ExecuteSqlAsync($"UPDATE outbox_messages SET attempts = attempts + 1 WHERE sequence = ANY({sequences})", cancellationToken));
        }
        await transaction.CommitAsync(cancellationToken);
        if (failure is not null)
        {
            throw new OutboxPublishException(failure);
        }
        return batch.Count;
    }

    private async Task PublishAsync(IReadOnlyList<OutboxMessage> rows, CancellationToken cancellationToken)
    {
        var message = OutboxBatch.ToMessage(rows);
        using var activity = StartPublishActivity(rows);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.PublishTimeout);
        await bus.Publish(message, context =>
        {
            context.MessageId = OutboxBatch.MessageId(rows);
            // Mandatory: with no queue bound yet (a consumer that has never started), RabbitMQ returns the message
            // instead of dropping it; the publish fails and the rows are retried, not marked sent and lost.
            if (context.TryGetPayload<RabbitMqSendContext>(out var rabbit))
            {
                rabbit.Mandatory = true;
            }
        }, timeout.Token);
    }

    /// <summary>
    /// One event continues its request's trace; a batch of several starts its own span linked to each event's
    /// trace (each event also carries its own traceparent to the consumer).
    /// </summary>
    private static Activity? StartPublishActivity(IReadOnlyList<OutboxMessage> rows)
    {
        if (rows.Count == 1)
        {
            ActivityContext.TryParse(rows[0].TraceParent, null, out var parent);
            return Microsoft.Extensions.Hosting.Telemetry.Source.StartActivity("outbox publish", ActivityKind.Producer, parent);
        }
        var links = rows
            .Select(r => ActivityContext.TryParse(r.TraceParent, null, out var context) ? new ActivityLink(context) : default)
            .Where(l => l.Context != default)
            .ToList();
        return Microsoft.Extensions.Hosting.Telemetry.Source.StartActivity("outbox publish", ActivityKind.Producer, default(ActivityContext), links: links);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Outbox flushed at shutdown: {Count} events published")]
    private partial void LogFlushed(int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outbox flush at shutdown stopped after {Count} events ({ErrorType}); the rest is published after the next start")]
    private partial void LogFlushIncomplete(int count, string errorType);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outbox dispatch failed ({ErrorType}), attempt {Attempt}; retrying in {DelayMs} ms")]
    private partial void LogDispatchFailed(string errorType, int attempt, double delayMs);

    [LoggerMessage(Level = LogLevel.Error, Message = "Outbox row {EventId} has unknown type {Type}; it will not be published")]
    private partial void LogUnknownType(Guid eventId, string type);
}

/// <summary>Outbox rows as the broker message that carries them.</summary>
public static class OutboxBatch
{
    public static IntegrationEventBatch ToMessage(IReadOnlyList<OutboxMessage> rows) => new()
    {
        Events = rows.Select(r => new IntegrationEventEnvelope
        {
            EventId = r.EventId,
            Type = r.Type,
            TraceParent = r.TraceParent,
            Payload = JsonSerializer.Deserialize<JsonElement>(r.Payload),
        }).ToList(),
    };

    /// <summary>The same rows always give the same id (one row: its event id), so a republished batch is recognisable.</summary>
    public static Guid MessageId(IReadOnlyList<OutboxMessage> rows)
    {
        if (rows.Count == 1)
        {
            return rows[0].EventId;
        }
        var ids = new byte[rows.Count * 16];
        for (var i = 0; i < rows.Count; i++)
        {
            rows[i].EventId.TryWriteBytes(ids.AsSpan(i * 16, 16));
        }
        return new Guid(SHA256.HashData(ids).AsSpan(0, 16));
    }
}

internal sealed class OutboxPublishException(Exception inner) : Exception("The broker did not confirm an outbox message.", inner);

using System.Threading.Channels;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using Polly;
using SecurePlatform.ServiceDefaults.Resilience;
using SecurePlatform.Audit.Model;

namespace SecurePlatform.Audit.Infrastructure;

public sealed class AuditIngestOptions
{
    public const string SectionName = "Audit:Ingest";

    /// <summary>The queue audit-service consumes (bound to the batch message's exchange).</summary>
    public string QueueName { get; set; } = "audit-events";

    /// <summary>Rows appended per transaction: once reached, no further message joins the transaction.</summary>
    public int MaxBatchSize { get; set; } = 2000;

    /// <summary>
    /// Messages (batches of up to the producers' outbox batch size) the broker hands out before acknowledgement,
    /// all consumed concurrently: each waits for the commit of the transaction that holds its rows.
    /// </summary>
    public int PrefetchCount { get; set; } = 100;

    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(5);

    public static IEnumerable<string> Validate(AuditIngestOptions o) => OptionsRule.Failures(
        OptionsRule.Required(o.QueueName, "Audit:Ingest:QueueName"),
        OptionsRule.AtLeast(o.MaxBatchSize, 1, "Audit:Ingest:MaxBatchSize"),
        OptionsRule.AtLeast(o.PrefetchCount, 1, "Audit:Ingest:PrefetchCount"),
        OptionsRule.Positive(o.MaxRetryDelay, "Audit:Ingest:MaxRetryDelay"));
}

/// <summary>
/// The single in-process appender. Consumers hand it a message's rows and await the commit of the transaction
/// that holds them, so a message is acknowledged only once its rows are durable. Each batch is one transaction that takes the
/// chain's advisory lock (one total order across every instance), skips event ids already stored (and
/// duplicates within the batch), links the rows to the chain head and COPYs them in.
/// A database outage is retried here with back-off (nothing is acknowledged meanwhile); a batch that fails
/// for any other reason is retried row by row, so one bad row fails only itself (its message is retried and
/// ends in the error queue; the message's other rows are stored).
/// </summary>
public sealed partial class AuditWriter(
    [FromKeyedServices("auditdb")] NpgsqlDataSource dataSource,
    IOptions<AuditIngestOptions> options,
    TimeProvider time,
    ILogger<AuditWriter> logger) : BackgroundService
{
    private readonly AuditIngestOptions _options = options.Value;
    private ResiliencePipeline? _outageRetry;
    private readonly Channel<Pending> _channel = Channel.CreateBounded<Pending>(new BoundedChannelOptions(Math.Max(options.Value.PrefetchCount * 2, 16))
    {
        SingleReader = true,
        FullMode = BoundedChannelFullMode.Wait,
    });

    /// <summary>
    /// Completes once every row of <paramref name="rows"/> is committed (or was already stored), or could not be
    /// stored: one broker message's rows, appended in one transaction together with other messages' rows.
    /// </summary>
    public async Task<AppendResult> AppendAsync(IReadOnlyList<AuditEvent> rows, CancellationToken cancellationToken)
    {
        if (rows.Count == 0)
        {
            return new AppendResult(new HashSet<Guid>(), []);
        }
        var pending = new Pending(rows);
        await _channel.Writer.WriteAsync(pending, cancellationToken);
        return await pending.Completion.Task.WaitAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var reader = _channel.Reader;
        var batch = new List<Pending>();
        try
        {
            while (await reader.WaitToReadAsync(stoppingToken))
            {
                var rows = 0;
                while (rows < _options.MaxBatchSize && reader.TryRead(out var item))
                {
                    batch.Add(item);
                    rows += item.Rows.Count;
                }
                await WriteWithRetryAsync(batch, stoppingToken);
                batch.Clear();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            _channel.Writer.TryComplete();
            var stopped = new OperationCanceledException("The audit writer is stopping.");
            foreach (var item in batch)
            {
                item.Completion.TrySetException(stopped);
            }
            while (reader.TryRead(out var item))
            {
                item.Completion.TrySetException(stopped);
            }
        }
    }

    private async Task WriteWithRetryAsync(List<Pending> batch, CancellationToken stoppingToken)
    {
        var rows = batch.SelectMany(p => p.Rows).ToList();
        // An outage is waited out here (nothing is acknowledged meanwhile); any other failure is not retried as a batch.
        _outageRetry ??= BackoffRetry.Create(TimeSpan.FromMilliseconds(100), _options.MaxRetryDelay, IsTransient,
            (ex, attempt, delay) => LogTransientFailure(ex.GetType().Name, attempt, delay.TotalMilliseconds));
        HashSet<Guid> inserted;
        try
        {
            inserted = await _outageRetry.ExecuteAsync(async ct => await AppendBatchAsync(rows, ct), stoppingToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogBatchFailed(ex.GetType().Name, rows.Count);
            await WriteOneByOneAsync(batch, stoppingToken);
            return;
        }
        foreach (var item in batch)
        {
            item.Completion.TrySetResult(new AppendResult(inserted, []));
        }
    }

    /// <summary>After a batch failed for a reason other than an outage: each row alone, so a bad row fails only itself.</summary>
    private async Task WriteOneByOneAsync(List<Pending> batch, CancellationToken stoppingToken)
    {
        foreach (var item in batch)
        {
            var inserted = new HashSet<Guid>();
            var failed = new List<(AuditEvent Row, Exception Error)>();
            foreach (var row in item.Rows)
            {
                try
                {
                    inserted.UnionWith(await AppendBatchAsync([row], stoppingToken));
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
                {
                    // The consumer fails the message: MassTransit retries it, then moves it to the error queue.
                    failed.Add((row, ex));
                }
            }
            item.Completion.TrySetResult(new AppendResult(inserted, failed));
        }
    }

    /// <summary>Appends <paramref name="rows"/> in one transaction; returns the event ids that were new.</summary>
    internal async Task<HashSet<Guid>> AppendBatchAsync(IReadOnlyList<AuditEvent> rows, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

        var ids = rows.Select(r => r.EventId).Distinct().ToArray();
        var existing = new HashSet<Guid>();
        var head = ChainHead.Empty;
        await using (var batch = new NpgsqlBatch(connection, transaction))
        {
            batch.BatchCommands.Add(new NpgsqlBatchCommand("SELECT pg_advisory_xact_lock($1)") { Parameters = { new() { Value = AuditSchema.ChainLockKey } } });
            batch.BatchCommands.Add(new NpgsqlBatchCommand($"SELECT event_id FROM {AuditSchema.Table} WHERE event_id = ANY($1)") { Parameters = { new() { Value = ids } } });
            batch.BatchCommands.Add(new NpgsqlBatchCommand($"SELECT sequence, hash FROM {AuditSchema.Table} ORDER BY sequence DESC LIMIT 1"));
            await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
            await reader.NextResultAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                existing.Add(reader.GetGuid(0));
            }
            await reader.NextResultAsync(cancellationToken);
            if (await reader.ReadAsync(cancellationToken))
            {
                head = new ChainHead(reader.GetInt64(0), (byte[])reader[1]);
            }
        }

        var recordedAt = AuditCanonicalForm.TruncateToMicroseconds(time.GetUtcNow());
        var fresh = new List<AuditEvent>(rows.Count);
        foreach (var row in rows)
        {
            if (!existing.Add(row.EventId))
            {
                continue; // stored earlier, or a duplicate within this batch
            }
            var linked = Copy(row);
            linked.RecordedAt = recordedAt;
            AuditChain.Link(linked, head);
            head = new ChainHead(linked.Sequence, linked.Hash);
            fresh.Add(linked);
        }

        if (fresh.Count > 0)
        {
            await CopyAsync(connection, fresh, cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
        return fresh.Select(r => r.EventId).ToHashSet();
    }

    /// <summary>Binary COPY of linked rows (the runtime role's INSERT privilege covers it).</summary>
    public static async Task CopyAsync(NpgsqlConnection connection, IEnumerable<AuditEvent> rows, CancellationToken cancellationToken)
    {
        await using var importer = await connection.BeginBinaryImportAsync(
            $"COPY {AuditSchema.Table} (sequence, event_id, type, occurred_at, recorded_at, actor, subject, source_service, ip, user_agent, correlation_id, payload, prev_hash, hash) FROM STDIN (FORMAT BINARY)",
            cancellationToken);
        foreach (var row in rows)
        {
            await importer.StartRowAsync(cancellationToken);
            await importer.WriteAsync(row.Sequence, NpgsqlDbType.Bigint, cancellationToken);
            await importer.WriteAsync(row.EventId, NpgsqlDbType.Uuid, cancellationToken);
            await importer.WriteAsync(row.Type, NpgsqlDbType.Varchar, cancellationToken);
            await importer.WriteAsync(row.OccurredAt, NpgsqlDbType.TimestampTz, cancellationToken);
            await importer.WriteAsync(row.RecordedAt, NpgsqlDbType.TimestampTz, cancellationToken);
            await WriteNullableAsync(importer, row.Actor, cancellationToken);
            await WriteNullableAsync(importer, row.Subject, cancellationToken);
            await importer.WriteAsync(row.SourceService, NpgsqlDbType.Varchar, cancellationToken);
            await WriteNullableAsync(importer, row.Ip, cancellationToken);
            await WriteNullableAsync(importer, row.UserAgent, cancellationToken);
            await WriteNullableAsync(importer, row.CorrelationId, cancellationToken);
            await importer.WriteAsync(row.Payload, NpgsqlDbType.Jsonb, cancellationToken);
            await importer.WriteAsync(row.PrevHash, NpgsqlDbType.Bytea, cancellationToken);
            await importer.WriteAsync(row.Hash, NpgsqlDbType.Bytea, cancellationToken);
        }
        await importer.CompleteAsync(cancellationToken);
    }

    private static async Task WriteNullableAsync(NpgsqlBinaryImporter importer, string? value, CancellationToken cancellationToken)
    {
        if (value is null)
        {
            await importer.WriteNullAsync(cancellationToken);
        }
        else
        {
            await importer.WriteAsync(value, NpgsqlDbType.Varchar, cancellationToken);
        }
    }

    private static AuditEvent Copy(AuditEvent row) => new()
    {
        EventId = row.EventId,
        Type = row.Type,
        OccurredAt = row.OccurredAt,
        Actor = row.Actor,
        Subject = row.Subject,
        SourceService = row.SourceService,
        Ip = row.Ip,
        UserAgent = row.UserAgent,
        CorrelationId = row.CorrelationId,
        Payload = row.Payload,
    };

    private static bool IsTransient(Exception ex) => ex switch
    {
        NpgsqlException npgsql => npgsql.IsTransient || npgsql is not PostgresException,
        TimeoutException => true,
        System.Net.Sockets.SocketException => true,
        _ => false,
    };

    [LoggerMessage(Level = LogLevel.Warning, Message = "Audit append failed ({ErrorType}), attempt {Attempt}; retrying in {DelayMs} ms")]
    private partial void LogTransientFailure(string errorType, int attempt, double delayMs);

    [LoggerMessage(Level = LogLevel.Error, Message = "Audit batch of {Count} rows failed ({ErrorType}); appending row by row")]
    private partial void LogBatchFailed(string errorType, int count);

    private sealed class Pending(IReadOnlyList<AuditEvent> rows)
    {
        public IReadOnlyList<AuditEvent> Rows { get; } = rows;

        public TaskCompletionSource<AppendResult> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}

/// <summary>What became of a message's rows: the ids newly stored (ids stored before are neither) and the rows that failed.</summary>
public sealed record AppendResult(IReadOnlySet<Guid> Inserted, IReadOnlyList<(AuditEvent Row, Exception Error)> Failed);

using System.Diagnostics;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using SecurePlatform.Audit.Model;

namespace SecurePlatform.Audit.Infrastructure;

public sealed record AuditPage(IReadOnlyList<AuditEvent> Items, string? NextCursor);

public sealed record VerifyReport(bool Verified, long Rows, long FromSequence, long ToSequence, long ElapsedMs, ChainBreak? Break);

/// <summary>Reads of the audit log: filtered pages (newest first), single events, and chain verification.</summary>
public sealed class AuditStore(AuditDbContext db, [FromKeyedServices("auditdb")] NpgsqlDataSource dataSource)
{
    public const int VerifyBatchSize = 5000;

    public async Task<AuditPage> QueryAsync(AuditQuery query, CancellationToken cancellationToken)
    {
        var rows = db.AuditEvents.AsNoTracking();
        if (query.UserId is not null)
        {
            rows = rows.Where(e => e.Subject == query.UserId);
        }
        if (query.Types.Count > 0)
        {
            var types = query.Types.ToArray();
            rows = rows.Where(e => types.Contains(e.Type));
        }
        if (query.From is { } from)
        {
            rows = rows.Where(e => e.OccurredAt >= from);
        }
        if (query.To is { } to)
        {
            rows = rows.Where(e => e.OccurredAt <= to);
        }
        if (query.BeforeSequence is { } before)
        {
            rows = rows.Where(e => e.Sequence < before);
        }
        var items = await rows.OrderByDescending(e => e.Sequence).Take(query.Limit + 1).ToListAsync(cancellationToken);
        string? next = null;
        if (items.Count > query.Limit)
        {
            items.RemoveAt(items.Count - 1);
            next = AuditCursor.Encode(items[^1].Sequence);
        }
        return new AuditPage(items, next);
    }

    public Task<AuditEvent?> FindAsync(Guid eventId, CancellationToken cancellationToken) =>
        db.AuditEvents.AsNoTracking().SingleOrDefaultAsync(e => e.EventId == eventId, cancellationToken);

    /// <summary>
    /// Walks rows <paramref name="from"/>..<paramref name="to"/> (default: to the current head) in batches of
    /// <see cref="VerifyBatchSize"/>, checking contiguity, each link and each row's own hash; stops at the first break.
    /// </summary>
    public async Task<VerifyReport> VerifyAsync(long from, long? to, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);

        long head;
        await using (var command = new NpgsqlCommand($"SELECT coalesce(max(sequence), 0) FROM {AuditSchema.Table}", connection))
        {
            head = (long)(await command.ExecuteScalarAsync(cancellationToken))!;
        }
        var last = Math.Min(to ?? head, head);

        var start = ChainHead.Empty;
        if (from > 1)
        {
            await using var command = new NpgsqlCommand($"SELECT sequence, hash FROM {AuditSchema.Table} WHERE sequence = $1", connection) { Parameters = { new() { Value = from - 1 } } };
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            start = await reader.ReadAsync(cancellationToken)
                ? new ChainHead(reader.GetInt64(0), (byte[])reader[1])
                // The row before the range is missing: the range's first row cannot link to anything.
                : new ChainHead(from - 1, AuditChain.Genesis);
        }

        var verifier = new ChainVerifier(start);
        var cursor = from - 1;
        while (cursor < last)
        {
            await using var command = new NpgsqlCommand(
                $"""
                SELECT sequence, event_id, type, occurred_at, recorded_at, actor, subject, source_service, ip, user_agent,
                       correlation_id, payload::text, prev_hash, hash
                FROM {AuditSchema.Table} WHERE sequence > $1 AND sequence <= $2 ORDER BY sequence LIMIT $3
                """,
                connection)
            {
                Parameters = { new() { Value = cursor }, new() { Value = last }, new() { Value = VerifyBatchSize } },
            };
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            var read = 0;
            while (await reader.ReadAsync(cancellationToken))
            {
                read++;
                var row = ReadRow(reader);
                if (verifier.Check(row) is { } broken)
                {
                    return new VerifyReport(false, verifier.Verified, from, last, watch.ElapsedMilliseconds, broken);
                }
                cursor = row.Sequence;
            }
            if (read == 0)
            {
                break;
            }
        }
        if (verifier.Verified < last - from + 1 && last >= from)
        {
            // Rows missing at the end of the range (the head row exists, so the gap is before it).
            return new VerifyReport(false, verifier.Verified, from, last, watch.ElapsedMilliseconds,
                new ChainBreak(cursor + 1, Guid.Empty, ChainBreakReasons.SequenceGap));
        }
        return new VerifyReport(true, verifier.Verified, from, last, watch.ElapsedMilliseconds, null);
    }

    internal static AuditEvent ReadRow(NpgsqlDataReader reader) => new()
    {
        Sequence = reader.GetInt64(0),
        EventId = reader.GetGuid(1),
        Type = reader.GetString(2),
        OccurredAt = reader.GetFieldValue<DateTimeOffset>(3),
        RecordedAt = reader.GetFieldValue<DateTimeOffset>(4),
        Actor = reader.IsDBNull(5) ? null : reader.GetString(5),
        Subject = reader.IsDBNull(6) ? null : reader.GetString(6),
        SourceService = reader.GetString(7),
        Ip = reader.IsDBNull(8) ? null : reader.GetString(8),
        UserAgent = reader.IsDBNull(9) ? null : reader.GetString(9),
        CorrelationId = reader.IsDBNull(10) ? null : reader.GetString(10),
        Payload = reader.GetString(11),
        PrevHash = (byte[])reader[12],
        Hash = (byte[])reader[13],
    };
}

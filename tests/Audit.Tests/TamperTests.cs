using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using SecurePlatform.Audit.Infrastructure;
using SecurePlatform.Audit.Model;
using SecurePlatform.Contracts;
using SecurePlatform.TestSupport;

namespace SecurePlatform.Audit.Tests;

/// <summary>The store's defences: the runtime role cannot change rows, the owner is stopped by the trigger, and an owner who gets past it is caught by the chain.</summary>
public class TamperTests
{
    private static async Task<List<AuditEvent>> SeedAsync(AuditHost host, string subject, int count)
    {
        var events = Enumerable.Range(0, count)
            .Select(i => new LoginSucceeded { Subject = subject, Actor = subject, SourceService = "test", SessionId = $"s{i}", IpAddress = "203.0.113.1" })
            .ToList();
        await host.Bus.PublishEventsAsync(events);
        await host.WaitForCountAsync(subject, count);
        return events.Select(e => AuditEntryFactory.Create(e)).ToList();
    }

    [Fact]
    public async Task A_row_altered_by_the_owner_with_the_trigger_disabled_is_named_by_verify()
    {
        await using var host = await new AuditHost("tamper").StartAsync();
        var rows = await SeedAsync(host, "victim", 30);
        var target = await host.OwnerScalarAsync("SELECT sequence FROM audit_events WHERE event_id = $1", rows[17].EventId);
        using var client = host.AdminClient();
        Assert.True((await HttpAssert.OkJsonAsync<JsonElement>(await client.GetAsync("/audit/verify"))).GetProperty("verified").GetBoolean());

        await host.OwnerAsync(async connection =>
        {
            await using var tx = await connection.BeginTransactionAsync();
            // ALTER TABLE takes an exclusive lock: no other session ever sees the trigger off.
            await using var command = new NpgsqlCommand("UPDATE audit_events SET ip = '198.51.100.66' WHERE sequence = $1", connection, tx);
            await new NpgsqlCommand("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only", connection, tx).ExecuteNonQueryAsync();
            command.Parameters.Add(new NpgsqlParameter { Value = target });
            Assert.Equal(1, await command.ExecuteNonQueryAsync());
            await new NpgsqlCommand("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only", connection, tx).ExecuteNonQueryAsync();
            await tx.CommitAsync();
            return 0;
        });

        var report = await HttpAssert.OkJsonAsync<JsonElement>(await client.GetAsync("/audit/verify"));
        Assert.False(report.GetProperty("verified").GetBoolean());
        Assert.Equal(target, report.GetProperty("brokenAtSequence").GetInt64());
        Assert.Equal(rows[17].EventId, report.GetProperty("eventId").GetGuid());
        Assert.Equal(ChainBreakReasons.HashMismatch, report.GetProperty("reason").GetString());
        Assert.Equal(target - 1, report.GetProperty("rows").GetInt64());

        // The rows before the break still verify as a range; a range after it starts from the altered row's stored hash.
        var before = await HttpAssert.OkJsonAsync<JsonElement>(await client.GetAsync($"/audit/verify?from=1&to={target - 1}"));
        Assert.True(before.GetProperty("verified").GetBoolean());
        Assert.Equal(target - 1, before.GetProperty("rows").GetInt64());
        var after = await HttpAssert.OkJsonAsync<JsonElement>(await client.GetAsync($"/audit/verify?from={target + 1}"));
        Assert.True(after.GetProperty("verified").GetBoolean());
    }

    [Fact]
    public async Task A_row_deleted_by_the_owner_is_reported_as_a_gap()
    {
        await using var host = await new AuditHost("tamperdelete").StartAsync();
        var rows = await SeedAsync(host, "victim", 10);
        await host.OwnerAsync(async connection =>
        {
            await using var tx = await connection.BeginTransactionAsync();
            await new NpgsqlCommand("SET LOCAL session_replication_role = replica", connection, tx).ExecuteNonQueryAsync();
            await using var delete = new NpgsqlCommand("DELETE FROM audit_events WHERE event_id = $1", connection, tx) { Parameters = { new() { Value = rows[4].EventId } } };
            Assert.Equal(1, await delete.ExecuteNonQueryAsync());
            await tx.CommitAsync();
            return 0;
        });

        var report = await HttpAssert.OkJsonAsync<JsonElement>(await host.AdminClient().GetAsync("/audit/verify"));
        Assert.False(report.GetProperty("verified").GetBoolean());
        Assert.Equal(ChainBreakReasons.SequenceGap, report.GetProperty("reason").GetString());
        Assert.Equal(rows[5].EventId, report.GetProperty("eventId").GetGuid());
    }

    [Fact]
    public async Task The_runtime_role_can_insert_and_read_but_not_update_delete_or_truncate()
    {
        await using var host = await new AuditHost("role").StartAsync();
        var rows = await SeedAsync(host, "someone", 3);
        var before = await host.OwnerScalarAsync("SELECT count(*) FROM audit_events WHERE ip = '203.0.113.1' AND subject = 'someone'");
        var runtime = host.Services.GetRequiredKeyedService<NpgsqlDataSource>("auditdb");

        await using (var whoami = runtime.CreateCommand("SELECT current_user"))
        {
            Assert.Equal(AuditSchema.WriterRole, await whoami.ExecuteScalarAsync());
        }
        foreach (var sql in new[]
        {
            "UPDATE audit_events SET ip = '198.51.100.1'",
            "DELETE FROM audit_events",
            "TRUNCATE audit_events",
            "ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only",
        })
        {
            await using var connection = await runtime.OpenConnectionAsync();
            await using var command = new NpgsqlCommand(sql, connection);
            var error = await Assert.ThrowsAsync<PostgresException>(() => command.ExecuteNonQueryAsync());
            Assert.True(error.SqlState is PostgresErrorCodes.InsufficientPrivilege, $"{sql}: {error.SqlState} {error.MessageText}");
        }
        // (Other tests' events may arrive in this database meanwhile: look at this test's rows only.)
        Assert.Equal(3, before);
        Assert.Equal(before, await host.OwnerScalarAsync("SELECT count(*) FROM audit_events WHERE ip = '203.0.113.1' AND subject = 'someone'"));
        Assert.Equal(rows.Count, await host.CountAsync("someone"));
    }

    [Fact]
    public async Task Even_the_owner_cannot_update_or_delete_while_the_trigger_is_on()
    {
        await using var host = await new AuditHost("owner").StartAsync();
        await SeedAsync(host, "someone", 2);
        foreach (var sql in new[] { "UPDATE audit_events SET ip = '198.51.100.1'", "DELETE FROM audit_events", "TRUNCATE audit_events" })
        {
            var error = await Assert.ThrowsAsync<PostgresException>(() => host.OwnerAsync(async c =>
            {
                await using var command = new NpgsqlCommand(sql, c);
                return await command.ExecuteNonQueryAsync();
            }));
            Assert.Contains("append-only", error.MessageText, StringComparison.Ordinal);
        }
        Assert.Equal(2, await host.OwnerScalarAsync("SELECT count(*) FROM audit_events WHERE ip = '203.0.113.1' AND subject = 'someone'"));
    }
}

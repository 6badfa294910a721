using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using MassTransit;
using Npgsql;
using SecurePlatform.Audit.Infrastructure;
using SecurePlatform.Audit.Model;
using SecurePlatform.Contracts;
using SecurePlatform.TestSupport;

namespace SecurePlatform.Bench.AuditIngest;

/// <summary>
/// Audit ingestion and query benchmark (see bench/README.md). Starts the real audit-service (Release build) on
/// loopback against the local servers, with a database and RabbitMQ vhost of its own, then:
///   1. ingest: writers commit events to a producer's outbox at --rate for --duration seconds; the real
///      OutboxDispatcher publishes them in batches; measures outbox commit -> committed audit row;
///   2. seed:   appends rows (a correct chain, as the table owner, binary COPY) until the log holds --rows;
///   3. query:  --queries x GET /audit/events for one user's newest page (p50/p95/p99), and /audit/me;
///   4. verify: GET /audit/verify over the whole log.
/// CPU is read from /proc (utime+stime) for audit-service, this instance's postmaster and beam.smp with their
/// descendants, and the bench process (the producer).
/// </summary>
public static class AuditIngestBench
{
    private sealed record Options(int DurationSeconds, int Writers, double Rate, int PerCommit, int OutboxBatchSize, long Rows, int Queries, bool Keep, string[] Phases, int DrainEvents);

    public static async Task<int> Main(string[] args)
    {
        var options = Parse(args);
        var postgres = Env("ConnectionStrings__postgres");
        var rabbit = Env("ConnectionStrings__rabbitmq");
        var redis = Env("ConnectionStrings__redis");
        var runId = DateTime.UtcNow.ToString("MMddHHmmss", CultureInfo.InvariantCulture);
        var database = new NpgsqlConnectionStringBuilder(postgres) { Database = $"auditdb_bench_{runId}" }.ConnectionString;
        var producerDatabase = new NpgsqlConnectionStringBuilder(postgres) { Database = $"producerdb_bench_{runId}" }.ConnectionString;
        var servers = Servers.FromEnvironment();

        Console.WriteLine($"# audit ingest bench {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC; {Environment.ProcessorCount} cores; phases {string.Join(',', options.Phases)}");
        await using var issuer = await FakeIssuer.StartAsync();
        // BENCH_AUDIT_<NAME>=value is passed to audit-service as <NAME>=value (settings, runtime knobs).
        var extra = Environment.GetEnvironmentVariables().Keys.Cast<string>()
            .Where(k => k.StartsWith("BENCH_AUDIT_", StringComparison.Ordinal))
            .ToDictionary(k => k["BENCH_AUDIT_".Length..], k => Environment.GetEnvironmentVariable(k)!);
        var auditEnvironment = new Dictionary<string, string>(extra)
        {
            ["ConnectionStrings__auditdb"] = database,
            ["ConnectionStrings__redis"] = redis,
            ["ConnectionStrings__rabbitmq"] = rabbit,
            ["Auth__Authority"] = issuer.Authority,
            ["Audit__Ingest__QueueName"] = $"audit-events-bench-{runId}",
            ["Logging__LogLevel__Default"] = "Warning",
        };
        var port = ServiceProcess.FreePort();
        var audit = ServiceProcess.Start("Audit.Api", auditEnvironment, port);
        try
        {
            await WaitHealthyAsync(audit);
            using var http = new HttpClient { BaseAddress = audit.BaseAddress, Timeout = TimeSpan.FromMinutes(10) };
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestTokens.Issue("bench-admin", roles: ["admin"], lifetime: TimeSpan.FromHours(2)));

            if (options.Phases.Contains("ingest"))
            {
                await IngestAsync(options, audit, servers, producerDatabase, rabbit, database, http);
            }
            if (options.Phases.Contains("drain"))
            {
                audit = await DrainAsync(options, audit, servers, auditEnvironment, port, producerDatabase, rabbit, database);
            }
            if (options.Phases.Contains("seed"))
            {
                await SeedAsync(options, database);
            }
            if (options.Phases.Contains("query"))
            {
                await QueryAsync(options, audit, servers, http);
            }
            if (options.Phases.Contains("verify"))
            {
                await VerifyAsync(audit, servers, http, "verify (whole log)");
            }
        }
        catch (Exception ex)
        {
            Console.Error.WriteLine($"bench failed: {ex}\naudit-service output:\n{audit.Output}");
            return 1;
        }
        finally
        {
            await audit.DisposeAsync();
            if (!options.Keep)
            {
                await using var admin = new NpgsqlConnection(postgres);
                await admin.OpenAsync();
                await new NpgsqlCommand($"DROP DATABASE IF EXISTS \"auditdb_bench_{runId}\" WITH (FORCE)", admin).ExecuteNonQueryAsync();
            }
        }
        return 0;
    }

    // ------------------------------------------------------------------ ingest
    private static IntegrationEvent SignInTraffic(long i)
    {
        var user = $"user-{Random.Shared.Next(10_000)}";
        return (i % 10) switch
        {
            0 => new LoginFailed { Subject = user, SourceService = "auth-service", IpAddress = "198.51.100.7", UserAgent = "bench", Reason = LoginFailureReasons.InvalidCredentials },
            1 => new TokenRefreshed { Subject = user, Actor = user, SourceService = "token-service", SessionId = $"s{i}", ClientId = "spa" },
            _ => new LoginSucceeded { Subject = user, Actor = user, SourceService = "auth-service", IpAddress = "203.0.113.5", UserAgent = "Mozilla/5.0 (bench)", SessionId = $"s{i}", ClientId = "spa", Amr = ["pwd"] },
        };
    }

    /// <summary>
    /// Producer outbox -> real OutboxDispatcher (batches, publisher confirms) -> RabbitMQ -> audit-service -> committed,
    /// chained row. Writers commit events at --rate for --duration seconds; the clock runs from the first outbox
    /// commit to the last audit row's commit.
    /// </summary>
    private static async Task IngestAsync(Options options, ServiceProcess audit, Servers servers, string producerDatabase, string rabbit, string database, HttpClient http)
    {
        await using var producer = await BenchProducer.StartAsync(producerDatabase, rabbit, options.OutboxBatchSize);
        await using var db = new NpgsqlConnection(database);
        await db.OpenAsync();
        var startRows = await MaxSequenceAsync(db);

        Console.WriteLine(Inv($"\n## ingest: {options.Writers} writers commit events to a producer's outbox at {(options.Rate > 0 ? $"{options.Rate:N0}/s" : "full speed")} (what is due, at most {options.PerCommit} per commit) for {options.DurationSeconds} s; the real OutboxDispatcher publishes them in batches of up to {options.OutboxBatchSize}"));
        var cpuBefore = CpuSample.Take(audit.Id, servers);
        var clock = Stopwatch.StartNew();
        var writing = producer.WriteAsync(options.Writers, options.Rate, options.PerCommit, TimeSpan.FromSeconds(options.DurationSeconds), SignInTraffic);

        var timeline = new List<(double T, long Written, long Committed)>();
        while (true)
        {
            await Task.WhenAny(writing.IsCompleted ? Task.CompletedTask : writing, Task.Delay(1000));
            if (writing.IsCompleted && timeline.Count > 0 && timeline[^1].Written == producer.Written)
            {
                await Task.Delay(250); // draining: sample four times a second
            }
            var committed = await MaxSequenceAsync(db) - startRows;
            var written = producer.Written;
            timeline.Add((clock.Elapsed.TotalSeconds, written, committed));
            if (timeline.Count % 5 == 0)
            {
                // Where a backlog sits: still in the outbox (producer / dispatcher side) or past it (broker, audit-service).
                Console.WriteLine(Inv($"  {clock.Elapsed.TotalSeconds,5:0} s: {written,9:N0} written, {await producer.PendingAsync(),8:N0} in the outbox, {committed,9:N0} committed"));
            }
            if (writing.IsCompleted && committed >= written)
            {
                break;
            }
            if (clock.Elapsed > TimeSpan.FromSeconds(options.DurationSeconds + 300))
            {
                throw new TimeoutException($"ingest did not drain: {committed} of {written} committed");
            }
        }
        await writing;
        var drained = clock.Elapsed.TotalSeconds;
        var producerBackends = await BackendsOfAsync(db, producer.DatabaseName);
        var cost = CpuSample.Take(audit.Id, servers).Since(cpuBefore, producerBackends);

        var total = producer.Written;
        var writeEnd = timeline.First(s => s.Written == total).T;
        var steady = timeline.Where(s => s.T >= 10 && s.T <= options.DurationSeconds).ToList();
        var steadyRate = steady.Count >= 2 ? (steady[^1].Committed - steady[0].Committed) / (steady[^1].T - steady[0].T) : double.NaN;
        var perSecond = timeline.Zip(timeline.Skip(1), (a, b) => (b.Committed - a.Committed) / (b.T - a.T)).Where((_, i) => timeline[i + 1].T <= options.DurationSeconds).ToList();
        var backlog = timeline.Max(s => s.Written - s.Committed);
        var latency = await LatencyAsync(db, startRows);
        Console.WriteLine(Inv($"written {total:N0} events to the outbox in {writeEnd:0.0} s ({total / writeEnd:N0}/s offered)"));
        Console.WriteLine(Inv($"all {total:N0} committed in the audit log {drained:0.0} s after the first outbox commit: {total / drained:N0} events/s end to end (wall)"));
        Console.WriteLine(Inv($"steady state (10 s .. {options.DurationSeconds} s): {steadyRate:N0} committed rows/s; per-second min {perSecond.DefaultIfEmpty().Min():N0}, median {Median(perSecond):N0}, max {perSecond.DefaultIfEmpty().Max():N0}; largest backlog {backlog:N0} events"));
        Console.WriteLine(Inv($"outbox commit -> audit row commit (occurred_at -> recorded_at): {latency}"));
        Console.WriteLine(Inv($"messages: {await BatchShapeAsync(producerDatabase)}"));
        Console.WriteLine($"CPU: {cost}");
        Console.WriteLine(Inv($"per CPU-second: {total / cost.Service:N0} events per CPU-second of audit-service+postgres+rabbitmq ({total / (cost.Service + cost.Producer):N0} including the producer); audit-service alone {total / cost.Audit:N0}; per event: audit-service {cost.Audit / total * 1e6:N0} us, postgres {cost.Postgres / total * 1e6:N0} us, rabbitmq {cost.Rabbit / total * 1e6:N0} us, producer {cost.Producer / total * 1e6:N0} us"));
        await VerifyAsync(audit, servers, http, "verify after ingest");
    }

    private static async Task<HashSet<int>> BackendsOfAsync(NpgsqlConnection db, string databaseName)
    {
        await using var command = new NpgsqlCommand("SELECT pid FROM pg_stat_activity WHERE datname = $1", db) { Parameters = { new() { Value = databaseName } } };
        await using var reader = await command.ExecuteReaderAsync();
        var pids = new HashSet<int>();
        while (await reader.ReadAsync())
        {
            pids.Add(reader.GetInt32(0));
        }
        return pids;
    }

    private static async Task<string> LatencyAsync(NpgsqlConnection db, long afterSequence)
    {
        await using var command = new NpgsqlCommand(
            """
            SELECT percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY extract(epoch FROM recorded_at - occurred_at)),
                   max(extract(epoch FROM recorded_at - occurred_at))
            FROM audit_events WHERE sequence > $1
            """, db) { Parameters = { new() { Value = afterSequence } } };
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        var p = (double[])reader[0];
        return Inv($"p50 {p[0] * 1000:N0} ms, p95 {p[1] * 1000:N0} ms, p99 {p[2] * 1000:N0} ms, max {Convert.ToDouble(reader[1], CultureInfo.InvariantCulture) * 1000:N0} ms");
    }

    /// <summary>How the dispatcher cut the stream: rows sharing a sent_at went out in one round, i.e. one message.</summary>
    private static async Task<string> BatchShapeAsync(string producerDatabase)
    {
        await using var db = new NpgsqlConnection(producerDatabase);
        await db.OpenAsync();
        await using var command = new NpgsqlCommand(
            """
            SELECT count(*), avg(n), percentile_cont(0.5) WITHIN GROUP (ORDER BY n), max(n)
            FROM (SELECT count(*) AS n FROM outbox_messages WHERE sent_at IS NOT NULL GROUP BY sent_at) rounds
            """, db);
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return Inv($"{reader.GetInt64(0):N0} batch messages, {Convert.ToDouble(reader[1], CultureInfo.InvariantCulture):0.0} events per message on average (median {reader.GetDouble(2):0}, max {reader.GetInt64(3):N0})");
    }

    // ------------------------------------------------------------------ drain
    /// <summary>
    /// The consumer side alone: with audit-service stopped, the producer's dispatcher queues --drain-events in batches;
    /// then a fresh audit-service starts and the time from its first committed row to the last gives its rate
    /// without a producer competing for CPU.
    /// </summary>
    private static async Task<ServiceProcess> DrainAsync(Options options, ServiceProcess audit, Servers servers, Dictionary<string, string> environment, int port, string producerDatabase, string rabbit, string database)
    {
        Console.WriteLine(Inv($"\n## drain: {options.DrainEvents:N0} events queued (outbox batches of up to {options.OutboxBatchSize}) while audit-service is stopped, then it starts"));
        await audit.DisposeAsync();
        await using var db = new NpgsqlConnection(database);
        await db.OpenAsync();
        var startRows = await MaxSequenceAsync(db);

        var clock = Stopwatch.StartNew();
        await using (var producer = await BenchProducer.StartAsync(producerDatabase, rabbit, options.OutboxBatchSize))
        {
            await producer.WriteAsync(options.Writers, 0, options.PerCommit, TimeSpan.FromMinutes(10), SignInTraffic, options.DrainEvents);
            await Eventually.HoldsAsync(async () => await producer.PendingAsync() == 0, TimeSpan.FromMinutes(5), "outbox published");
        }
        Console.WriteLine(Inv($"queued {options.DrainEvents:N0} in {clock.Elapsed.TotalSeconds:0.0} s ({options.DrainEvents / clock.Elapsed.TotalSeconds:N0}/s written and published with nothing consuming)"));

        var cpuBefore = CpuSample.Take(Environment.ProcessId, servers);
        var restarted = ServiceProcess.Start("Audit.Api", environment, port);
        clock.Restart();
        double? first = null;
        while (true)
        {
            await Task.Delay(250);
            var committed = await MaxSequenceAsync(db) - startRows;
            if (committed > 0)
            {
                first ??= clock.Elapsed.TotalSeconds;
            }
            if (committed >= options.DrainEvents)
            {
                break;
            }
            if (clock.Elapsed > TimeSpan.FromMinutes(10) || restarted.HasExited)
            {
                throw new TimeoutException($"drain incomplete: {committed} of {options.DrainEvents}\n{restarted.Output}");
            }
        }
        var end = clock.Elapsed.TotalSeconds;
        var cost = CpuSample.Take(restarted.Id, servers).Since(cpuBefore with { Audit = 0 });
        await WaitHealthyAsync(restarted);
        Console.WriteLine(Inv($"first row committed {first:0.0} s after the process started; all {options.DrainEvents:N0} {end:0.0} s after: {options.DrainEvents / (end - first!.Value):N0} events/s drained (wall, first to last row)"));
        Console.WriteLine($"CPU (from process start, incl. start-up): audit-service {cost.Audit:0.0} s, postgres {cost.Postgres:0.0} s, rabbitmq {cost.Rabbit:0.0} s");
        Console.WriteLine(Inv($"per CPU-second: {options.DrainEvents / cost.Service:N0} events per CPU-second of audit-service+postgres+rabbitmq; audit-service alone {options.DrainEvents / cost.Audit:N0}"));
        return restarted;
    }

    // ------------------------------------------------------------------ seed
    private static async Task SeedAsync(Options options, string database)
    {
        await using var db = new NpgsqlConnection(database);
        await db.OpenAsync();
        var existing = await MaxSequenceAsync(db);
        var toAdd = options.Rows - existing;
        Console.WriteLine(Inv($"\n## seed: {existing:N0} rows present; appending {Math.Max(toAdd, 0):N0} (owner connection, chained, binary COPY in 50,000-row transactions)"));
        if (toAdd <= 0)
        {
            return;
        }
        var clock = Stopwatch.StartNew();
        var random = new Random(42);
        var baseTime = DateTimeOffset.UtcNow.AddDays(-30);
        long added = 0;
        while (added < toAdd)
        {
            var chunk = (int)Math.Min(50_000, toAdd - added);
            await using var tx = await db.BeginTransactionAsync();
            await using (var lockCommand = new NpgsqlCommand("SELECT pg_advisory_xact_lock($1)", db, tx) { Parameters = { new() { Value = AuditSchema.ChainLockKey } } })
            {
                await lockCommand.ExecuteNonQueryAsync();
            }
            var head = ChainHead.Empty;
            await using (var headCommand = new NpgsqlCommand("SELECT sequence, hash FROM audit_events ORDER BY sequence DESC LIMIT 1", db, tx))
            await using (var reader = await headCommand.ExecuteReaderAsync())
            {
                if (await reader.ReadAsync())
                {
                    head = new ChainHead(reader.GetInt64(0), (byte[])reader[1]);
                }
            }
            var recordedAt = AuditCanonicalForm.TruncateToMicroseconds(DateTimeOffset.UtcNow);
            var rows = new List<AuditEvent>(chunk);
            for (var i = 0; i < chunk; i++)
            {
                var n = added + i;
                // One "hot" user in every 100 rows, spread over the whole table; the rest over 10,000 users.
                var user = n % 100 == 0 ? "user-hot" : $"user-{random.Next(10_000)}";
                var at = baseTime.AddMilliseconds(n * 2.5);
                IntegrationEvent evt = (n % 7) switch
                {
                    0 => new LoginFailed { Subject = user, SourceService = "auth-service", IpAddress = "198.51.100.7", UserAgent = "seed", Reason = LoginFailureReasons.InvalidCredentials, OccurredAt = at },
                    1 => new TokenRefreshed { Subject = user, Actor = user, SourceService = "token-service", SessionId = $"s{n}", ClientId = "spa", OccurredAt = at },
                    2 => new SessionRevoked { Subject = user, Actor = user, SourceService = "token-service", SessionId = $"s{n}", Reason = RevocationReasons.Logout, OccurredAt = at },
                    _ => new LoginSucceeded { Subject = user, Actor = user, SourceService = "auth-service", IpAddress = "203.0.113.5", UserAgent = "Mozilla/5.0 (seed)", SessionId = $"s{n}", ClientId = "spa", Amr = ["pwd"], OccurredAt = at },
                };
                var row = AuditEntryFactory.Create(evt);
                row.RecordedAt = recordedAt;
                AuditChain.Link(row, head);
                head = new ChainHead(row.Sequence, row.Hash);
                rows.Add(row);
            }
            await AuditWriter.CopyAsync(db, rows, CancellationToken.None);
            await tx.CommitAsync();
            added += chunk;
            if (added % 200_000 == 0 || added == toAdd)
            {
                Console.WriteLine(Inv($"  {existing + added:N0} rows, {clock.Elapsed.TotalSeconds:0} s"));
            }
        }
        await new NpgsqlCommand("ANALYZE audit_events", db).ExecuteNonQueryAsync();
        Console.WriteLine(Inv($"seeded {toAdd:N0} rows in {clock.Elapsed.TotalSeconds:0.0} s ({toAdd / clock.Elapsed.TotalSeconds:N0} rows/s); table now {await MaxSequenceAsync(db):N0} rows"));
    }

    // ------------------------------------------------------------------ query
    private static async Task QueryAsync(Options options, ServiceProcess audit, Servers servers, HttpClient http)
    {
        Console.WriteLine($"\n## query: {options.Queries} sequential requests each, after 50 warm-up requests");
        await MeasureAsync(options, audit, servers, http, "GET /audit/events?userId=user-hot&limit=50 (newest page, ~1 % of all rows are this user's)", "/audit/events?userId=user-hot&limit=50");
        await MeasureAsync(options, audit, servers, http, "GET /audit/events?userId=user-<random>&limit=50 (a user with ~100 rows)", () => $"/audit/events?userId=user-{Random.Shared.Next(10_000)}&limit=50");
        await MeasureAsync(options, audit, servers, http, "GET /audit/events?userId=user-hot&type=LoginFailed&limit=50", "/audit/events?userId=user-hot&type=LoginFailed&limit=50");
        using var me = new HttpClient { BaseAddress = audit.BaseAddress };
        me.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestTokens.Issue("user-hot", lifetime: TimeSpan.FromHours(2)));
        await MeasureAsync(options, audit, servers, me, "GET /audit/me as user-hot (20 newest)", "/audit/me");
    }

    private static Task MeasureAsync(Options options, ServiceProcess audit, Servers servers, HttpClient http, string title, string path) =>
        MeasureAsync(options, audit, servers, http, title, () => path);

    private static async Task MeasureAsync(Options options, ServiceProcess audit, Servers servers, HttpClient http, string title, Func<string> path)
    {
        for (var i = 0; i < 50; i++)
        {
            (await http.GetAsync(path())).EnsureSuccessStatusCode();
        }
        var latencies = new List<double>(options.Queries);
        var items = 0;
        var cpuBefore = CpuSample.Take(audit.Id, servers);
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < options.Queries; i++)
        {
            var started = Stopwatch.GetTimestamp();
            using var response = await http.GetAsync(path());
            var body = await response.Content.ReadAsStringAsync();
            latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            response.EnsureSuccessStatusCode();
            if (i == 0)
            {
                using var json = JsonDocument.Parse(body);
                items = json.RootElement.GetProperty("items").GetArrayLength();
            }
        }
        var cost = CpuSample.Take(audit.Id, servers).Since(cpuBefore);
        latencies.Sort();
        Console.WriteLine($"{title}: {items} items/page");
        Console.WriteLine(Inv($"  p50 {Percentile(latencies, 50):0.00} ms, p95 {Percentile(latencies, 95):0.00} ms, p99 {Percentile(latencies, 99):0.00} ms, max {latencies[^1]:0.00} ms; {options.Queries / clock.Elapsed.TotalSeconds:N0} req/s sequential; CPU audit {cost.Audit:0.0} s + postgres {cost.Postgres:0.0} s"));
    }

    // ------------------------------------------------------------------ verify
    private static async Task VerifyAsync(ServiceProcess audit, Servers servers, HttpClient http, string title)
    {
        var cpuBefore = CpuSample.Take(audit.Id, servers);
        var clock = Stopwatch.StartNew();
        using var response = await http.GetAsync("/audit/verify");
        var body = await response.Content.ReadAsStringAsync();
        response.EnsureSuccessStatusCode();
        var cost = CpuSample.Take(audit.Id, servers).Since(cpuBefore);
        using var json = JsonDocument.Parse(body);
        var report = json.RootElement;
        Console.WriteLine(Inv($"{title}: verified={report.GetProperty("verified").GetBoolean()} rows={report.GetProperty("rows").GetInt64():N0} elapsedMs={report.GetProperty("elapsedMs").GetInt64():N0} (wall {clock.ElapsedMilliseconds:N0} ms; CPU audit {cost.Audit:0.0} s + postgres {cost.Postgres:0.0} s)"));
        if (!report.GetProperty("verified").GetBoolean())
        {
            throw new InvalidOperationException("the chain does not verify: " + body);
        }
    }

    // ------------------------------------------------------------------ helpers
    private static async Task WaitHealthyAsync(ServiceProcess audit)
    {
        await audit.WaitUntilAliveAsync(TimeSpan.FromSeconds(60));
        using var http = new HttpClient { BaseAddress = audit.BaseAddress };
        await Eventually.HoldsAsync(async () => (await http.GetAsync("/health")).IsSuccessStatusCode, TimeSpan.FromSeconds(60), "audit-service healthy");
    }

    private static async Task<long> MaxSequenceAsync(NpgsqlConnection db)
    {
        await using var command = new NpgsqlCommand("SELECT coalesce(max(sequence), 0) FROM audit_events", db);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static double Percentile(List<double> sorted, double p) => sorted[Math.Clamp((int)Math.Ceiling(p / 100 * sorted.Count) - 1, 0, sorted.Count - 1)];

    private static double Median(List<double> values) => values.Count == 0 ? double.NaN : values.Order().ElementAt(values.Count / 2);

    private static string Inv(FormattableString value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Env(string name) => Environment.GetEnvironmentVariable(name)
        ?? throw new InvalidOperationException($"{name} is not set; run bench/audit-ingest.sh (it exports the local servers' connection strings)");

    private static Options Parse(string[] args)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            values[args[i].TrimStart('-')] = args[i + 1];
        }
        int Int(string key, int fallback) => values.TryGetValue(key, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
        var duration = Int("duration", 60);
        if (duration is < 1 or > 600)
        {
            throw new ArgumentOutOfRangeException(nameof(args), "--duration must be 1..600 s (bounded runs only)");
        }
        var rows = values.TryGetValue("rows", out var r) ? long.Parse(r, CultureInfo.InvariantCulture) : 1_000_000;
        if (rows > 5_000_000)
        {
            throw new ArgumentOutOfRangeException(nameof(args), "--rows must be at most 5,000,000");
        }
        return new Options(duration, Int("writers", 4), Int("rate", 6000), Math.Clamp(Int("per-commit", 20), 1, 1000), Int("batch-size", new SecurePlatform.Messaging.OutboxOptions().BatchSize), rows, Int("queries", 1000),
            values.TryGetValue("keep", out var keep) && keep == "true",
            (values.TryGetValue("phases", out var phases) ? phases : "ingest,drain,seed,query,verify").Split(','),
            Math.Clamp(Int("drain-events", 60_000), 1, 500_000));
    }
}

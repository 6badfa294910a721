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
///   1. ingest: publishes events at full speed for --duration seconds and measures publish -> committed row;
///   2. seed:   appends rows (a correct chain, as the table owner, binary COPY) until the log holds --rows;
///   3. query:  --queries x GET /audit/events for one user's newest page (p50/p95/p99), and /audit/me;
///   4. verify: GET /audit/verify over the whole log.
/// CPU is read from /proc (utime+stime) for audit-service, every postgres process and RabbitMQ's beam.smp.
/// </summary>
public static class AuditIngestBench
{
    private sealed record Options(int DurationSeconds, int Publishers, long Rows, int Queries, bool Keep, string[] Phases);

    public static async Task<int> Main(string[] args)
    {
        var options = Parse(args);
        var postgres = Env("ConnectionStrings__postgres");
        var rabbit = Env("ConnectionStrings__rabbitmq");
        var redis = Env("ConnectionStrings__redis");
        var runId = DateTime.UtcNow.ToString("MMddHHmmss", CultureInfo.InvariantCulture);
        var database = new NpgsqlConnectionStringBuilder(postgres) { Database = $"auditdb_bench_{runId}" }.ConnectionString;

        Console.WriteLine($"# audit ingest bench {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC; {Environment.ProcessorCount} cores; phases {string.Join(',', options.Phases)}");
        await using var issuer = await FakeIssuer.StartAsync();
        // BENCH_AUDIT_<NAME>=value is passed to audit-service as <NAME>=value (settings, runtime knobs).
        var extra = Environment.GetEnvironmentVariables().Keys.Cast<string>()
            .Where(k => k.StartsWith("BENCH_AUDIT_", StringComparison.Ordinal))
            .ToDictionary(k => k["BENCH_AUDIT_".Length..], k => Environment.GetEnvironmentVariable(k)!);
        var audit = ServiceProcess.Start("Audit.Api", new Dictionary<string, string>(extra)
        {
            ["ConnectionStrings__auditdb"] = database,
            ["ConnectionStrings__redis"] = redis,
            ["ConnectionStrings__rabbitmq"] = rabbit,
            ["Auth__Authority"] = issuer.Authority,
            ["Audit__Ingest__QueueName"] = $"audit-events-bench-{runId}",
            ["Logging__LogLevel__Default"] = "Warning",
        });
        try
        {
            await WaitHealthyAsync(audit);
            using var http = new HttpClient { BaseAddress = audit.BaseAddress, Timeout = TimeSpan.FromMinutes(10) };
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestTokens.Issue("bench-admin", roles: ["admin"], lifetime: TimeSpan.FromHours(2)));

            if (options.Phases.Contains("ingest"))
            {
                await IngestAsync(options, audit, rabbit, database, http);
            }
            if (options.Phases.Contains("seed"))
            {
                await SeedAsync(options, database);
            }
            if (options.Phases.Contains("query"))
            {
                await QueryAsync(options, audit, http);
            }
            if (options.Phases.Contains("verify"))
            {
                await VerifyAsync(audit, http, "verify (whole log)");
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
    private static async Task IngestAsync(Options options, ServiceProcess audit, string rabbit, string database, HttpClient http)
    {
        var bus = Bus.Factory.CreateUsingRabbitMq(cfg => cfg.Host(new Uri(rabbit), h => h.PublisherConfirmation = true));
        await bus.StartAsync();
        await using var db = new NpgsqlConnection(database);
        await db.OpenAsync();
        var startRows = await MaxSequenceAsync(db);

        Console.WriteLine($"\n## ingest: {options.Publishers} concurrent publishers (publisher confirms) for {options.DurationSeconds} s");
        long published = 0;
        var stop = new CancellationTokenSource(TimeSpan.FromSeconds(options.DurationSeconds));
        var cpuBefore = CpuSample.Take(audit.Id);
        var clock = Stopwatch.StartNew();
        var publishers = Enumerable.Range(0, options.Publishers).Select(p => Task.Run(async () =>
        {
            var i = 0;
            while (!stop.IsCancellationRequested)
            {
                i++;
                var user = $"user-{Random.Shared.Next(10_000)}";
                IntegrationEvent evt = (i % 10) switch
                {
                    0 => new LoginFailed { Subject = user, SourceService = "auth-service", IpAddress = "198.51.100.7", UserAgent = "bench", Reason = LoginFailureReasons.InvalidCredentials },
                    1 => new TokenRefreshed { Subject = user, Actor = user, SourceService = "token-service", SessionId = $"s{p}-{i}", ClientId = "spa" },
                    _ => new LoginSucceeded { Subject = user, Actor = user, SourceService = "auth-service", IpAddress = "203.0.113.5", UserAgent = "Mozilla/5.0 (bench)", SessionId = $"s{p}-{i}", ClientId = "spa", Amr = ["pwd"] },
                };
                await bus.Publish(evt, evt.GetType());
                Interlocked.Increment(ref published);
            }
        })).ToList();

        var timeline = new List<(double T, long Published, long Committed)>();
        var publishDone = Task.WhenAll(publishers);
        while (true)
        {
            await Task.Delay(1000);
            var committed = await MaxSequenceAsync(db) - startRows;
            var p = Interlocked.Read(ref published);
            timeline.Add((clock.Elapsed.TotalSeconds, p, committed));
            if (publishDone.IsCompleted && committed >= p)
            {
                break;
            }
            if (clock.Elapsed > TimeSpan.FromSeconds(options.DurationSeconds + 300))
            {
                throw new TimeoutException($"ingest did not drain: {committed} of {p} committed");
            }
        }
        await publishDone;
        var total = Interlocked.Read(ref published);
        // The exact moment the last row committed lies within the last sampling second; take the end of it.
        var drained = clock.Elapsed.TotalSeconds;
        var cost = CpuSample.Take(audit.Id).Since(cpuBefore);
        await bus.StopAsync();

        var publishEnd = timeline.First(s => s.Published == total).T;
        var steady = timeline.Where(s => s.T >= 10 && s.T <= options.DurationSeconds).ToList();
        var steadyRate = steady.Count >= 2 ? (steady[^1].Committed - steady[0].Committed) / (steady[^1].T - steady[0].T) : double.NaN;
        var perSecond = timeline.Zip(timeline.Skip(1), (a, b) => (b.Committed - a.Committed) / (b.T - a.T)).Where((_, i) => timeline[i + 1].T <= options.DurationSeconds).ToList();
        var backlog = timeline.Max(s => s.Published - s.Committed);
        Console.WriteLine(Inv($"published {total:N0} events in {publishEnd:0.0} s ({total / publishEnd:N0}/s offered)"));
        Console.WriteLine(Inv($"all {total:N0} committed {drained:0.0} s after the first publish: {total / drained:N0} events/s end to end (wall)"));
        Console.WriteLine(Inv($"steady state (10 s .. {options.DurationSeconds} s): {steadyRate:N0} committed rows/s; per-second min {perSecond.DefaultIfEmpty().Min():N0}, median {Median(perSecond):N0}, max {perSecond.DefaultIfEmpty().Max():N0}; largest backlog {backlog:N0}"));
        Console.WriteLine($"CPU: {cost}");
        Console.WriteLine(Inv($"per CPU-second: {total / cost.Service:N0} events per CPU-second of audit-service+postgres+rabbitmq ({total / (cost.Service + cost.Bench):N0} including the publisher); audit-service alone {total / cost.Audit:N0}"));
        await VerifyAsync(audit, http, "verify after ingest");
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
    private static async Task QueryAsync(Options options, ServiceProcess audit, HttpClient http)
    {
        Console.WriteLine($"\n## query: {options.Queries} sequential requests each, after 50 warm-up requests");
        await MeasureAsync(options, audit, http, "GET /audit/events?userId=user-hot&limit=50 (newest page, ~1 % of all rows are this user's)", "/audit/events?userId=user-hot&limit=50");
        await MeasureAsync(options, audit, http, "GET /audit/events?userId=user-<random>&limit=50 (a user with ~100 rows)", () => $"/audit/events?userId=user-{Random.Shared.Next(10_000)}&limit=50");
        await MeasureAsync(options, audit, http, "GET /audit/events?userId=user-hot&type=LoginFailed&limit=50", "/audit/events?userId=user-hot&type=LoginFailed&limit=50");
        using var me = new HttpClient { BaseAddress = audit.BaseAddress };
        me.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestTokens.Issue("user-hot", lifetime: TimeSpan.FromHours(2)));
        await MeasureAsync(options, audit, me, "GET /audit/me as user-hot (20 newest)", "/audit/me");
    }

    private static Task MeasureAsync(Options options, ServiceProcess audit, HttpClient http, string title, string path) =>
        MeasureAsync(options, audit, http, title, () => path);

    private static async Task MeasureAsync(Options options, ServiceProcess audit, HttpClient http, string title, Func<string> path)
    {
        for (var i = 0; i < 50; i++)
        {
            (await http.GetAsync(path())).EnsureSuccessStatusCode();
        }
        var latencies = new List<double>(options.Queries);
        var items = 0;
        var cpuBefore = CpuSample.Take(audit.Id);
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
        var cost = CpuSample.Take(audit.Id).Since(cpuBefore);
        latencies.Sort();
        Console.WriteLine($"{title}: {items} items/page");
        Console.WriteLine(Inv($"  p50 {Percentile(latencies, 50):0.00} ms, p95 {Percentile(latencies, 95):0.00} ms, p99 {Percentile(latencies, 99):0.00} ms, max {latencies[^1]:0.00} ms; {options.Queries / clock.Elapsed.TotalSeconds:N0} req/s sequential; CPU audit {cost.Audit:0.0} s + postgres {cost.Postgres:0.0} s"));
    }

    // ------------------------------------------------------------------ verify
    private static async Task VerifyAsync(ServiceProcess audit, HttpClient http, string title)
    {
        var cpuBefore = CpuSample.Take(audit.Id);
        var clock = Stopwatch.StartNew();
        using var response = await http.GetAsync("/audit/verify");
        var body = await response.Content.ReadAsStringAsync();
        response.EnsureSuccessStatusCode();
        var cost = CpuSample.Take(audit.Id).Since(cpuBefore);
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
        return new Options(duration, Int("publishers", 32), rows, Int("queries", 1000),
            values.TryGetValue("keep", out var keep) && keep == "true",
            (values.TryGetValue("phases", out var phases) ? phases : "ingest,seed,query,verify").Split(','));
    }
}

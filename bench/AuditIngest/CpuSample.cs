using System.Globalization;

namespace SecurePlatform.Bench.AuditIngest;

/// <summary>The bench's own PostgreSQL and RabbitMQ instances (BENCH_PG_PID, BENCH_RMQ_PID from audit-ingest.sh).</summary>
public sealed record Servers(int PostgresPid, int RabbitPid)
{
    public static Servers FromEnvironment() => new(Pid("BENCH_PG_PID"), Pid("BENCH_RMQ_PID"));

    private static int Pid(string name) => int.TryParse(Environment.GetEnvironmentVariable(name), CultureInfo.InvariantCulture, out var pid)
        ? pid
        : throw new InvalidOperationException($"{name} is not set; run bench/audit-ingest.sh (it finds this instance's server pids)");
}

/// <summary>CPU of the parts of the ingest path: audit-service, PostgreSQL, RabbitMQ, and the bench process (the producer).</summary>
public sealed record CpuSample(double Audit, Dictionary<int, double> Postgres, Dictionary<int, double> Rabbit, double Bench)
{
    public static CpuSample Take(int auditPid, Servers servers) => new(
        ProcessCpu.Seconds(auditPid), ProcessCpu.Tree(servers.PostgresPid), ProcessCpu.Tree(servers.RabbitPid), ProcessCpu.Seconds(Environment.ProcessId));

    /// <summary><paramref name="producerBackends"/>: PostgreSQL backends serving the producer's database, counted with the producer.</summary>
    public CpuCost Since(CpuSample before, IReadOnlySet<int>? producerBackends = null) => new(
        Audit - before.Audit,
        ProcessCpu.Delta(before.Postgres, Postgres, pid => producerBackends?.Contains(pid) != true),
        ProcessCpu.Delta(before.Rabbit, Rabbit),
        Bench - before.Bench,
        producerBackends is null ? 0 : ProcessCpu.Delta(before.Postgres, Postgres, producerBackends.Contains));
}

public sealed record CpuCost(double Audit, double Postgres, double Rabbit, double Bench, double ProducerPostgres = 0)
{
    /// <summary>The service side of the path: what an operator pays for (the producer stands in for the platform's services).</summary>
    public double Service => Audit + Postgres + Rabbit;

    /// <summary>The producer: the bench process (writes outbox rows, runs the real OutboxDispatcher) and its database's backends.</summary>
    public double Producer => Bench + ProducerPostgres;

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"audit-service {Audit:0.0} s, postgres {Postgres:0.0} s, rabbitmq {Rabbit:0.0} s (sum {Service:0.0} s); producer: bench process {Bench:0.0} s + its postgres backends {ProducerPostgres:0.0} s");
}

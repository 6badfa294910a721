using System.Globalization;

namespace SecurePlatform.Bench.AuditIngest;

/// <summary>CPU time (user + system) from /proc/PID/stat, for one process or a process and all its descendants.</summary>
public static class ProcessCpu
{
    private const double TicksPerSecond = 100.0; // USER_HZ on Linux

    public static double Seconds(int pid) => Read(pid)?.Cpu ?? 0;

    /// <summary>
    /// <paramref name="rootPid"/> and every live descendant, keyed by pid (so exits between samples are visible).
    /// Only this bench's own server instances count, not every postgres or beam.smp on a shared machine.
    /// </summary>
    public static Dictionary<int, double> Tree(int rootPid)
    {
        var all = new Dictionary<int, (int Parent, double Cpu)>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && Read(pid) is { } stat)
            {
                all[pid] = (stat.Parent, stat.Cpu);
            }
        }
        var result = new Dictionary<int, double>();
        if (rootPid <= 0 || !all.ContainsKey(rootPid))
        {
            return result;
        }
        var pending = new Queue<int>([rootPid]);
        while (pending.TryDequeue(out var pid))
        {
            result[pid] = all[pid].Cpu;
            foreach (var child in all.Where(p => p.Value.Parent == pid).Select(p => p.Key))
            {
                pending.Enqueue(child);
            }
        }
        return result;
    }

    /// <summary>CPU spent between two samples (processes that started in between count from zero).</summary>
    public static double Delta(Dictionary<int, double> before, Dictionary<int, double> after, Func<int, bool>? include = null) =>
        after.Where(p => include?.Invoke(p.Key) ?? true).Sum(p => p.Value - before.GetValueOrDefault(p.Key, 0));

    private static (int Parent, double Cpu)? Read(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var close = stat.LastIndexOf(')');
            var fields = stat[(close + 2)..].Split(' ');
            // fields[0] is state (field 3), fields[1] the parent pid; utime and stime are fields 14 and 15.
            var parent = int.Parse(fields[1], CultureInfo.InvariantCulture);
            var utime = long.Parse(fields[11], CultureInfo.InvariantCulture);
            var stime = long.Parse(fields[12], CultureInfo.InvariantCulture);
            return (parent, (utime + stime) / TicksPerSecond);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or ArgumentOutOfRangeException)
        {
            return null;
        }
    }
}

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

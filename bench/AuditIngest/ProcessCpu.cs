using System.Globalization;

namespace SecurePlatform.Bench.AuditIngest;

/// <summary>CPU time (user + system) from /proc/PID/stat, for one process or every process of a name.</summary>
public static class ProcessCpu
{
    private const double TicksPerSecond = 100.0; // USER_HZ on Linux

    public static double Seconds(int pid) => Read(pid)?.Cpu ?? 0;

    /// <summary>Sum over every live process whose name (comm) is <paramref name="name"/>, keyed by pid (so exits between samples are visible).</summary>
    public static Dictionary<int, double> ByName(string name)
    {
        var result = new Dictionary<int, double>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && Read(pid) is { } stat && stat.Name == name)
            {
                result[pid] = stat.Cpu;
            }
        }
        return result;
    }

    /// <summary>CPU spent between two samples by processes of a name (processes that started in between count from zero).</summary>
    public static double Delta(Dictionary<int, double> before, Dictionary<int, double> after) =>
        after.Sum(p => p.Value - before.GetValueOrDefault(p.Key, 0));

    private static (string Name, double Cpu)? Read(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var open = stat.IndexOf('(', StringComparison.Ordinal);
            var close = stat.LastIndexOf(')');
            var name = stat[(open + 1)..close];
            var fields = stat[(close + 2)..].Split(' ');
            // fields[0] is state (field 3); utime and stime are fields 14 and 15.
            var utime = long.Parse(fields[11], CultureInfo.InvariantCulture);
            var stime = long.Parse(fields[12], CultureInfo.InvariantCulture);
            return (name, (utime + stime) / TicksPerSecond);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or ArgumentOutOfRangeException)
        {
            return null;
        }
    }
}

/// <summary>CPU of the parts of the ingest path: audit-service, PostgreSQL, RabbitMQ, and the bench's own publisher.</summary>
public sealed record CpuSample(double Audit, Dictionary<int, double> Postgres, Dictionary<int, double> Rabbit, double Bench)
{
    public static CpuSample Take(int auditPid) => new(
        ProcessCpu.Seconds(auditPid), ProcessCpu.ByName("postgres"), ProcessCpu.ByName("beam.smp"), ProcessCpu.Seconds(Environment.ProcessId));

    public CpuCost Since(CpuSample before) => new(
        Audit - before.Audit, ProcessCpu.Delta(before.Postgres, Postgres), ProcessCpu.Delta(before.Rabbit, Rabbit), Bench - before.Bench);
}

public sealed record CpuCost(double Audit, double Postgres, double Rabbit, double Bench)
{
    /// <summary>The service side of the path: what an operator pays for (the publisher stands in for the producers).</summary>
    public double Service => Audit + Postgres + Rabbit;

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"audit-service {Audit:0.0} s, postgres {Postgres:0.0} s, rabbitmq {Rabbit:0.0} s (sum {Service:0.0} s); bench publisher {Bench:0.0} s");
}

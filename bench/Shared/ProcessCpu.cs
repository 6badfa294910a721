using System.Globalization;

namespace SecurePlatform.Bench;

/// <summary>One line of <c>/proc/PID/stat</c>: parent, own CPU and the CPU of children it has reaped, in clock ticks.</summary>
public readonly record struct ProcStat(int Pid, string Name, int ParentPid, long OwnTicks, long ReapedChildTicks)
{
    /// <summary>Parses <c>pid (comm) state ppid ...</c>; comm may hold spaces and parentheses, so fields count from the last ')'.</summary>
    public static ProcStat Parse(string stat)
    {
        var open = stat.IndexOf('(');
        var close = stat.LastIndexOf(')');
        var fields = stat[(close + 2)..].Split(' ');
        // fields[0] is field 3 (state): ppid = 4, utime = 14, stime = 15, cutime = 16, cstime = 17
        return new ProcStat(
            int.Parse(stat.AsSpan(0, open).Trim(), CultureInfo.InvariantCulture),
            stat[(open + 1)..close],
            int.Parse(fields[1], CultureInfo.InvariantCulture),
            long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture),
            long.Parse(fields[13], CultureInfo.InvariantCulture) + long.Parse(fields[14], CultureInfo.InvariantCulture));
    }
}

/// <summary>
/// The benches' one /proc reader: CPU time (user + system) of a process, of a process tree, or of every process.
/// Linked into each bench project (Compile Include), so there is no second copy.
/// </summary>
public static class ProcessCpu
{
    public const double TicksPerSecond = 100.0; // USER_HZ on Linux

    /// <summary>One process's own CPU seconds; 0 when it is gone or unreadable.</summary>
    public static double Seconds(int pid) => Read(pid)?.OwnTicks / TicksPerSecond ?? 0;

    /// <summary>Every readable process, by pid.</summary>
    public static Dictionary<int, ProcStat> Snapshot()
    {
        var all = new Dictionary<int, ProcStat>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && Read(pid) is { } stat)
            {
                all[pid] = stat;
            }
        }
        return all;
    }

    /// <summary>
    /// <paramref name="rootPid"/> and every live descendant with its own CPU seconds, keyed by pid (so exits between
    /// samples are visible). Only a bench's own server instances count, not every postgres on a shared machine.
    /// </summary>
    public static Dictionary<int, double> Tree(int rootPid)
    {
        var all = Snapshot();
        var result = new Dictionary<int, double>();
        if (rootPid <= 0 || !all.ContainsKey(rootPid))
        {
            return result;
        }
        var children = all.Values.ToLookup(p => p.ParentPid, p => p.Pid);
        var pending = new Queue<int>([rootPid]);
        while (pending.TryDequeue(out var pid))
        {
            if (result.TryAdd(pid, all[pid].OwnTicks / TicksPerSecond))
            {
                foreach (var child in children[pid])
                {
                    pending.Enqueue(child);
                }
            }
        }
        return result;
    }

    /// <summary>CPU spent between two <see cref="Tree"/> samples (processes that started in between count from zero).</summary>
    public static double Delta(Dictionary<int, double> before, Dictionary<int, double> after, Func<int, bool>? include = null) =>
        after.Where(p => include?.Invoke(p.Key) ?? true).Sum(p => p.Value - before.GetValueOrDefault(p.Key, 0));

    /// <summary>
    /// Ticks per root ("pid/name"): the root and every live descendant, each with the CPU of the children it
    /// has already reaped (a backend that exits moves its CPU into its parent's cutime/cstime, still in the tree).
    /// A root that is gone counts 0.
    /// </summary>
    public static Dictionary<string, long> TreeTicks(IReadOnlyDictionary<int, ProcStat> all, IEnumerable<int> roots)
    {
        var children = all.Values.ToLookup(p => p.ParentPid, p => p.Pid);
        var result = new Dictionary<string, long>();
        foreach (var root in roots.Distinct())
        {
            if (!all.TryGetValue(root, out var rootStat))
            {
                result[$"{root}/gone"] = 0;
                continue;
            }
            long ticks = 0;
            var pending = new Stack<int>([root]);
            var seen = new HashSet<int>();
            while (pending.TryPop(out var pid))
            {
                if (!seen.Add(pid) || !all.TryGetValue(pid, out var p))
                {
                    continue;
                }
                ticks += p.OwnTicks + p.ReapedChildTicks;
                foreach (var child in children[pid])
                {
                    pending.Push(child);
                }
            }
            result[$"{root}/{rootStat.Name}"] = ticks;
        }
        return result;
    }

    private static ProcStat? Read(int pid)
    {
        try
        {
            return ProcStat.Parse(File.ReadAllText($"/proc/{pid}/stat"));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or ArgumentOutOfRangeException)
        {
            return null; // the process ended while we looked, or is not ours to read
        }
    }
}

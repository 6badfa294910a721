using System.Net;
using System.Net.Sockets;
using Xunit;

namespace SecurePlatform.TestSupport;

/// <summary>
/// A PostgreSQL, Redis and RabbitMQ of the fault tests' own (data under .local/infra-fault, ports shifted by an
/// offset: the first free one from FAULT_INFRA_PORT_OFFSET, default 100), so stopping a server there disturbs no
/// other test.
/// </summary>
public class FaultInfrastructure : IAsyncLifetime
{
    private const int Attempts = 3;

    private static readonly string DataDir = Path.Combine(TestEnvironment.RepoRoot, ".local", "infra-fault");

    public InfraInstance Infra { get; private set; } = new(DataDir, FaultPorts.StartOffset);

    public IReadOnlyDictionary<string, string> ConnectionStrings { get; private set; } = new Dictionary<string, string>();

    public virtual Task InitializeAsync()
    {
        // Servers an aborted earlier run left behind hold their ports and the data folder: stop them first
        // (by their PID files, whatever offset they were started at).
        Infra.Down();
        var offset = FaultPorts.StartOffset;
        for (var attempt = 1; ; attempt++)
        {
            offset = FaultPorts.FreeOffset(offset);
            Infra = new InfraInstance(DataDir, offset);
            try
            {
                Infra.Up();
                break;
            }
            catch (InvalidOperationException e) when (attempt < Attempts && FaultPorts.IsPortClash(e.Message))
            {
                // Taken between the probe and the server's bind (another test's outgoing connection): next offset.
                Infra.Down();
                offset += FaultPorts.Step;
            }
        }
        ConnectionStrings = Infra.Env();
        return Task.CompletedTask;
    }

    public virtual Task DisposeAsync()
    {
        Infra.Down();
        return Task.CompletedTask;
    }
}

/// <summary>
/// The ports <c>eng/infra.sh</c> gives an instance at an offset, and the first offset at which all of them are free.
/// They lie in Linux's ephemeral range, so an outgoing connection of another test may hold one for a while; RabbitMQ
/// then fails with <c>eaddrinuse</c> on its listener, its distribution port or a CLI tool's port.
/// </summary>
public static class FaultPorts
{
    /// <summary>Wider than one instance's span of ports (ten CLI ports), so two offsets a step apart share none.</summary>
    public const int Step = 20;

    public static int StartOffset { get; } =
        int.TryParse(Environment.GetEnvironmentVariable("FAULT_INFRA_PORT_OFFSET"), out var offset) ? offset : 100;

    public const int Postgres = 55432;
    public const int Redis = 56379;

    /// <summary>
    /// Every port of a full instance: PostgreSQL, Redis, RabbitMQ (AMQP, management, distribution, its epmd) and the
    /// CLI tools' distribution range, as <c>eng/infra.sh</c> numbers them before the offset.
    /// </summary>
    public static IReadOnlyList<int> All { get; } =
        [Postgres, Redis, 55672, 55673, 55674, 55675, .. Enumerable.Range(55680, 10)];

    public static IEnumerable<int> PortsAt(int offset, IReadOnlyList<int>? ports = null) => (ports ?? All).Select(p => p + offset);

    /// <summary>The first offset from <paramref name="start"/> on (in steps) at which each of the ports (default: all) is free.</summary>
    public static int FreeOffset(int start, IReadOnlyList<int>? ports = null)
    {
        var held = PortsInUse();
        for (var offset = start; offset < start + 50 * Step; offset += Step)
        {
            if (PortsAt(offset, ports).All(port => !held.Contains(port) && CanBind(port)))
            {
                return offset;
            }
        }
        throw new InvalidOperationException($"no offset from {start} on has all its fault-infrastructure ports free");
    }

    public static bool IsFree(int port) => !PortsInUse().Contains(port) && CanBind(port);

    /// <summary>
    /// Every local port of a TCP socket in the kernel's tables, in any state. A bind probe alone misses a connection's
    /// local port: .NET binds with SO_REUSEADDR on Linux, which the kernel lets share that port, while a server's
    /// listener without it (Erlang's distribution) gets <c>eaddrinuse</c>.
    /// </summary>
    private static HashSet<int> PortsInUse()
    {
        var ports = new HashSet<int>();
        foreach (var table in new[] { "/proc/net/tcp", "/proc/net/tcp6" }.Where(File.Exists))
        {
            // "  0: 0100007F:D8F2 00000000:0000 0A ..." — the local address's port, in hex
            foreach (var line in File.ReadLines(table).Skip(1))
            {
                var local = line.TrimStart().Split(' ', StringSplitOptions.RemoveEmptyEntries).ElementAtOrDefault(1);
                if (local?.Split(':') is [_, var hex] && int.TryParse(hex, System.Globalization.NumberStyles.HexNumber, null, out var port))
                {
                    ports.Add(port);
                }
            }
        }
        return ports;
    }

    private static bool CanBind(int port)
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            probe.Bind(new IPEndPoint(IPAddress.Loopback, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    public static bool IsPortClash(string message) =>
        message.Contains("eaddrinuse", StringComparison.OrdinalIgnoreCase) || message.Contains("already in use", StringComparison.OrdinalIgnoreCase);
}

using System.Net;
using System.Net.Sockets;
using SecurePlatform.TestSupport;

namespace SecurePlatform.Messaging.Tests;

/// <summary>The fault servers' offset steps past a port someone else holds, as a listener or as a connection's own port.</summary>
public class FaultPortsTests
{
    [Fact]
    public void An_offset_whose_erlang_distribution_port_is_an_outgoing_connections_local_port_is_skipped()
    {
        var start = FaultPorts.FreeOffset(2000);
        var distributionPort = 55674 + start;
        using var server = new TcpListener(IPAddress.Loopback, 0);
        server.Start();
        // What an ephemeral port looks like: a client socket whose local end is that port.
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        client.Bind(new IPEndPoint(IPAddress.Loopback, distributionPort));
        client.Connect((IPEndPoint)server.LocalEndpoint);
        using var accepted = server.AcceptSocket();

        var chosen = FaultPorts.FreeOffset(start);

        Assert.NotEqual(start, chosen);
        Assert.DoesNotContain(distributionPort, FaultPorts.PortsAt(chosen));
        Assert.All(FaultPorts.PortsAt(chosen), port => Assert.True(FaultPorts.IsFree(port), $"port {port} free"));
    }

    [Fact]
    public void An_offset_whose_cli_port_has_a_listener_is_skipped_and_a_free_one_is_kept()
    {
        var start = FaultPorts.FreeOffset(2500);
        Assert.Equal(start, FaultPorts.FreeOffset(start));
        using var listener = new TcpListener(IPAddress.Loopback, 55689 + start); // the last CLI distribution port
        listener.Start();

        Assert.NotEqual(start, FaultPorts.FreeOffset(start));
    }
}

using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace SecurePlatform.ServiceDefaults.RateLimiting;

/// <summary>Pure rules for what a budget is keyed by.</summary>
public static class ClientPartition
{
    /// <summary>
    /// The client's address as a budget key: IPv4 as is (IPv4-mapped IPv6 unwrapped), IPv6 as its /64 (one customer's
    /// network, which gets 2^64 addresses: per address would give an attacker unlimited budgets). The address is the
    /// connection's, or what a configured proxy forwarded (ForwardedHeaders runs first, only for
    /// <c>Security:KnownProxies</c>/<c>KnownNetworks</c>), so a spoofed <c>X-Forwarded-For</c> changes nothing.
    /// </summary>
    public static string Of(IPAddress? address)
    {
        if (address is null)
        {
            return "none"; // in-memory test servers; every such caller shares one budget
        }
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return address.ToString();
        }
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        bytes[8..].Clear();
        return new IPAddress(bytes).ToString() + "/64";
    }

    /// <summary>
    /// A short, fixed-width key for an identifier (an email, a client id) so Redis keys hold no personal data in clear
    /// and cannot be made long by the caller.
    /// </summary>
    public static string Hash(string value)
    {
        Span<byte> digest = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(value), digest);
        return Convert.ToHexStringLower(digest[..16]);
    }
}

using System.Security.Authentication;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;

namespace SecurePlatform.ServiceDefaults.Security;

/// <summary>
/// TLS for every service. Kestrel serves HTTPS from the certificate its configuration names
/// (<c>Kestrel:Certificates:Default:Path</c> + <c>KeyPath</c> for PEM, or a PFX with <c>Password</c>) and watches
/// those files, so a renewed certificate is used for new connections without a restart; HTTP/2 is negotiated
/// by ALPN. Or TLS ends at a proxy listed in <c>Security:KnownProxies</c> / <c>Security:KnownNetworks</c>.
/// </summary>
public static class TransportSecurity
{
    public const string CertificateSetting = "Kestrel:Certificates:Default:Path";

    public const SslProtocols AllowedProtocols = SslProtocols.Tls12 | SslProtocols.Tls13;

    public static void Apply(KestrelServerOptions kestrel)
        => kestrel.ConfigureHttpsDefaults(https => https.SslProtocols = AllowedProtocols);

    /// <summary>Null when the service either serves HTTPS with a configured certificate or is behind a configured proxy.</summary>
    public static string? ProductionProblem(IConfiguration configuration, SecurityOptions options)
    {
        var hasCertificate = !string.IsNullOrEmpty(configuration[CertificateSetting])
            || configuration.GetSection("Kestrel:Endpoints").GetChildren().Any(e => !string.IsNullOrEmpty(e["Certificate:Path"]));
        var behindProxy = options.KnownProxies.Count > 0 || options.KnownNetworks.Count > 0;
        return hasCertificate || behindProxy
            ? null
            : $"neither '{CertificateSetting}' (a certificate: TLS here) nor 'Security:KnownProxies' / 'Security:KnownNetworks' (TLS ended at a proxy) is set";
    }
}

using System.Net;
using System.Net.Http.Json;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using SecurePlatform.TestSupport;

namespace SecurePlatform.ServiceDefaults.Tests;

/// <summary>
/// Real TLS: the test makes its own CA and server certificate, starts services outside Development with them
/// (as an operator would, through Kestrel's configuration) and talks to them over the wire.
/// </summary>
public sealed class TlsTests : IDisposable
{
    private const string ClientSecret = "tls-test-client-secret-0123456789abcdef";
    private readonly string _dir = Directory.CreateTempSubdirectory("sp-tls-").FullName;
    private readonly TestCertificateAuthority _authority = new();

    public TlsTests() => _authority.WriteCertificate(CaPath);

    private string CaPath => Path.Combine(_dir, "ca.pem");

    private string CertificatePath(string name) => Path.Combine(_dir, name + ".pem");

    private string KeyPath(string name) => Path.Combine(_dir, name + ".key");

    /// <summary>Issues a server certificate for 127.0.0.1 into name.pem/name.key; returns its serial number.</summary>
    private string IssueServerCertificate(string name) => _authority.IssueServerCertificate(CertificatePath(name), KeyPath(name));

    private bool TrustedByTestCa(X509Certificate? certificate, SslPolicyErrors errors)
    {
        if (certificate is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None)
        {
            return false; // a name mismatch or no certificate is never fine
        }
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(_authority.Certificate);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var presented = new X509Certificate2(certificate);
        return chain.Build(presented);
    }

    private HttpClient TrustingClient(int httpsPort) => new(new SocketsHttpHandler
    {
        SslOptions = { RemoteCertificateValidationCallback = (_, certificate, _, errors) => TrustedByTestCa(certificate, errors) },
    })
    { BaseAddress = new Uri($"https://127.0.0.1:{httpsPort}") };

    /// <summary>Outside Development, as in production: HSTS, HTTPS required; the certificate from Kestrel's configuration.</summary>
    private static Dictionary<string, string> Served(string certificate, string key, int httpPort, int httpsPort) => new()
    {
        ["ASPNETCORE_ENVIRONMENT"] = "Staging",
        ["Kestrel__Endpoints__Http__Url"] = $"http://127.0.0.1:{httpPort}",
        ["Kestrel__Endpoints__Https__Url"] = $"https://127.0.0.1:{httpsPort}",
        ["Kestrel__Certificates__Default__Path"] = certificate,
        ["Kestrel__Certificates__Default__KeyPath"] = key,
        ["ConnectionStrings__redis"] = TestEnvironment.ConnectionString("redis"),
        ["ConnectionStrings__rabbitmq"] = TestEnvironment.ConnectionString("rabbitmq"),
        ["Database__MigrateOnStartup"] = "true",
        ["Logging__LogLevel__Default"] = "Warning",
    };

    private Dictionary<string, string> AuthService(int httpPort, int httpsPort, int tokenHttpsPort, string database = "tls")
    {
        var environment = Served(CertificatePath("auth"), KeyPath("auth"), httpPort, httpsPort);
        environment["ConnectionStrings__authdb"] = TestEnvironment.UniqueDatabase("authdb", database);
        environment["TokenService__ClientSecret"] = ClientSecret;
        environment["services__token-service__https__0"] = $"https://127.0.0.1:{tokenHttpsPort}";
        // Budgets of their own: with the defaults (5 registrations per IP and hour, under the shared key prefix) every
        // other run on this machine registering from 127.0.0.1 eats into this test's budget (it then sees 429).
        foreach (var (key, value) in TestEnvironment.AsEnvironment(TestEnvironment.GenerousRateLimits(TestEnvironment.RateLimitKeyPrefix("tls"))))
        {
            environment[key] = value;
        }
        return environment;
    }

    [Fact]
    public async Task Https_from_a_configured_certificate_tls12_and_13_only_http2_hsts_reload_and_plain_http_refused()
    {
        var serial = IssueServerCertificate("auth");
        int httpPort = ServiceProcess.FreePort(), httpsPort = ServiceProcess.FreePort();
        await using var auth = ServiceProcess.Start("Auth.Api", AuthService(httpPort, httpsPort, ServiceProcess.FreePort()), httpPort);
        await auth.WaitUntilAliveAsync(Platform.StartupTimeout);
        using var https = TrustingClient(httpsPort);

        using var request = new HttpRequestMessage(HttpMethod.Get, "/auth/password-policy") { Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
        using var response = await https.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(HttpVersion.Version20, response.Version);
        Assert.Equal("max-age=31536000; includeSubDomains", Assert.Single(response.Headers.GetValues("Strict-Transport-Security")));

        using var plain = new HttpClient { BaseAddress = auth.BaseAddress };
        var refused = await HttpAssert.IsProblemAsync(await plain.GetAsync("/auth/password-policy"), HttpStatusCode.BadRequest);
        Assert.Equal("HTTPS is required.", refused.GetProperty("title").GetString());

        Assert.Equal(SslProtocols.Tls13, (await HandshakeAsync(httpsPort, SslProtocols.Tls13)).Protocol);
        Assert.Equal(SslProtocols.Tls12, (await HandshakeAsync(httpsPort, SslProtocols.Tls12)).Protocol);
#pragma warning disable SYSLIB0039 // TLS 1.0/1.1 are obsolete: that is what the server must refuse
        await Assert.ThrowsAnyAsync<Exception>(() => HandshakeAsync(httpsPort, SslProtocols.Tls11));
        await Assert.ThrowsAnyAsync<Exception>(() => HandshakeAsync(httpsPort, SslProtocols.Tls));
#pragma warning restore SYSLIB0039
        Assert.Equal(serial, (await HandshakeAsync(httpsPort, SslProtocols.Tls13)).Serial);

        // A renewed certificate (an ACME client rewriting the files) is served without a restart.
        var renewed = IssueServerCertificate("auth");
        // Kestrel rebinds the endpoint on reload: a connection in that moment is refused, the next one gets the new certificate.
        await Eventually.HoldsAsync(async () =>
        {
            try
            {
                return (await HandshakeAsync(httpsPort, SslProtocols.Tls13)).Serial == renewed;
            }
            catch (Exception ex) when (ex is System.Net.Sockets.SocketException or IOException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(20), "new connections get the renewed certificate");
        Assert.False(auth.HasExited);
    }

    [Fact]
    public async Task The_back_channel_to_token_service_validates_its_certificate()
    {
        IssueServerCertificate("token");
        IssueServerCertificate("auth");
        int tokenHttp = ServiceProcess.FreePort(), tokenHttps = ServiceProcess.FreePort();
        var tokenEnvironment = Served(CertificatePath("token"), KeyPath("token"), tokenHttp, tokenHttps);
        tokenEnvironment["ConnectionStrings__tokendb"] = TestEnvironment.UniqueDatabase("tokendb", "tls");
        tokenEnvironment["Token__Issuer"] = $"https://127.0.0.1:{tokenHttps}/";
        tokenEnvironment["Token__ClientSecretHashKey"] = "tls-test-hash-key-0123456789abcdef";
        tokenEnvironment["Clients__auth-service__Secret"] = ClientSecret;
        await using var token = ServiceProcess.Start("Token.Api", tokenEnvironment, tokenHttp);

        // auth-service with the system's trust store only: token-service's certificate is from an unknown CA.
        int untrustingHttp = ServiceProcess.FreePort(), untrustingHttps = ServiceProcess.FreePort();
        // Its own database: two services creating one database at once would race.
        await using var untrusting = ServiceProcess.Start("Auth.Api", AuthService(untrustingHttp, untrustingHttps, tokenHttps, "tls_untrusting"), untrustingHttp);
        // The same, trusting the test CA (OpenSSL's SSL_CERT_FILE, as a CA bundle mounted into a container would be).
        int trustingHttp = ServiceProcess.FreePort(), trustingHttps = ServiceProcess.FreePort();
        var trustingEnvironment = AuthService(trustingHttp, trustingHttps, tokenHttps, "tls_trusting");
        trustingEnvironment["SSL_CERT_FILE"] = CaPath;
        await using var trusting = ServiceProcess.Start("Auth.Api", trustingEnvironment, trustingHttp);
        await Task.WhenAll(token.WaitUntilAliveAsync(Platform.StartupTimeout), untrusting.WaitUntilAliveAsync(Platform.StartupTimeout), trusting.WaitUntilAliveAsync(Platform.StartupTimeout));

        var email = $"tls-{Guid.NewGuid():N}@example.org";
        const string password = "Correct-Horse-Battery-Tls-42";
        using var trustingClient = TrustingClient(trustingHttps);
        await ExpectAsync(await trustingClient.PostAsJsonAsync("/auth/register", new { email, password }), HttpStatusCode.Created, trusting);

        using var untrustingClient = TrustingClient(untrustingHttps);
        await ExpectAsync(await untrustingClient.PostAsJsonAsync("/auth/register", new { email, password }), HttpStatusCode.Created, untrusting);
        var refused = await untrustingClient.PostAsJsonAsync("/auth/login", new { email, password });
        await ExpectAsync(refused, HttpStatusCode.ServiceUnavailable, untrusting);
        await HttpAssert.IsProblemAsync(refused, HttpStatusCode.ServiceUnavailable);
        await ExpectAsync(await trustingClient.PostAsJsonAsync("/auth/login", new { email, password }), HttpStatusCode.OK, trusting, token);
    }

    /// <summary>An unexpected status fails with the answer and the services' own logs (a rare 500 here left no trace before).</summary>
    private static async Task ExpectAsync(HttpResponseMessage response, HttpStatusCode expected, params ServiceProcess[] services)
    {
        if (response.StatusCode != expected)
        {
            var logs = string.Join("\n---\n", services.Select(s => s.Output is { Length: > 6000 } output ? output[^6000..] : s.Output));
            throw new Xunit.Sdk.XunitException($"expected {expected}, got {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}\n{logs}");
        }
    }

    private async Task<(SslProtocols Protocol, string Serial)> HandshakeAsync(int port, SslProtocols protocols)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port);
        await using var tls = new SslStream(tcp.GetStream(), false, (_, certificate, _, errors) => TrustedByTestCa(certificate, errors));
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "127.0.0.1", EnabledSslProtocols = protocols });
        using var presented = new X509Certificate2(tls.RemoteCertificate!);
        return (tls.SslProtocol, presented.SerialNumber);
    }

    public void Dispose()
    {
        _authority.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}

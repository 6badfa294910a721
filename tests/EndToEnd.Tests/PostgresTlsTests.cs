using System.Net.Http.Json;
using System.Security.Authentication;
using System.Text.Json;
using Npgsql;
using SecurePlatform.TestSupport;

namespace SecurePlatform.EndToEnd.Tests;

/// <summary>
/// PostgreSQL in TLS mode, as Production should run it: a PostgreSQL of the test's own (eng/infra.sh with
/// PG_TLS_DIR: TLS 1.2+, hostssl only) with a CA and server certificate the test creates. A service connects
/// with <c>SSL Mode=VerifyFull</c> and the CA as its root certificate, through the platform's own DbContext
/// registration; a plain connection and one trusting another CA are refused.
/// </summary>
public sealed class PostgresTlsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sp-pgtls-").FullName;
    private readonly TestCertificateAuthority _ca = new();
    private readonly TestCertificateAuthority _otherCa = new("Some other CA");

    private static async Task<bool> SessionUsesTlsAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", connection);
        return (bool)(await command.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task A_service_works_over_verified_tls_while_plain_connections_and_a_wrong_ca_are_refused()
    {
        _ca.IssueServerCertificate(Path.Combine(_dir, "server.crt"), Path.Combine(_dir, "server.key"));
        var caPath = _ca.WriteCertificate(Path.Combine(_dir, "ca.crt"));
        var wrongCaPath = _otherCa.WriteCertificate(Path.Combine(_dir, "wrong-ca.crt"));
        var offset = FaultPorts.FreeOffset(FaultPorts.StartOffset + 10, [FaultPorts.Postgres]);
        var infra = new InfraInstance(Path.Combine(TestEnvironment.RepoRoot, ".local", "infra-pgtls"), offset, new Dictionary<string, string> { ["PG_TLS_DIR"] = _dir });
        infra.Up("postgres");
        try
        {
            var plain = infra.Env()["profiledb"];
            string With(SslMode mode, string? rootCertificate) =>
                new NpgsqlConnectionStringBuilder(plain) { SslMode = mode, RootCertificate = rootCertificate, Database = "postgres" }.ConnectionString;

            // Plain TCP: pg_hba has no entry for an unencrypted connection.
            var refused = await Assert.ThrowsAsync<PostgresException>(() => SessionUsesTlsAsync(With(SslMode.Disable, null)));
            Assert.Equal(PostgresErrorCodes.InvalidAuthorizationSpecification, refused.SqlState);
            // A CA that did not sign the server's certificate: the handshake fails before any password is sent.
            var untrusted = await Assert.ThrowsAnyAsync<NpgsqlException>(() => SessionUsesTlsAsync(With(SslMode.VerifyFull, wrongCaPath)));
            Assert.IsType<AuthenticationException>(untrusted.InnerException);
            Assert.True(await SessionUsesTlsAsync(With(SslMode.VerifyFull, caPath)));

            // profile-service: migrations, queries and its health check over VerifyFull.
            var verified = new NpgsqlConnectionStringBuilder(plain) { SslMode = SslMode.VerifyFull, RootCertificate = caPath }.ConnectionString;
            var shared = new[] { "redis", "rabbitmq" }.ToDictionary(n => n, TestEnvironment.ConnectionString);
            shared["profiledb"] = verified;
            var ports = new Dictionary<string, int> { ["Profile.Api"] = ServiceProcess.FreePort(), ["Token.Api"] = ServiceProcess.FreePort() };
            await using var profile = ServiceProcess.Start("Profile.Api", Platform.EnvironmentFor("Profile.Api", shared, "pgtls", ports), ports["Profile.Api"]);
            await profile.WaitUntilAliveAsync(Platform.StartupTimeout);
            using var http = new HttpClient { BaseAddress = profile.BaseAddress };
            await Eventually.HoldsAsync(async () =>
            {
                var health = await http.GetFromJsonAsync<JsonElement>("/health");
                var database = health.GetProperty("checks").EnumerateArray().Single(c => c.GetProperty("name").GetString() == "profiledb").GetProperty("status").GetString();
                return database == "Healthy";
            }, TimeSpan.FromSeconds(60), "profile-service reaches profiledb over TLS");
        }
        finally
        {
            infra.Down("postgres");
        }
    }

    public void Dispose()
    {
        _ca.Dispose();
        _otherCa.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}

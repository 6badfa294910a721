using SecurePlatform.TestSupport;

namespace SecurePlatform.ServiceDefaults.Tests;

/// <summary>
/// Nothing outside the tests accepts a certificate it could not verify: no accept-any validator or callback for
/// HTTPS, no "trust the server certificate" or unverified SSL mode for PostgreSQL, no disabled check for Redis or
/// RabbitMQ. TLS to every dependency is a connection-string setting, verified by the defaults.
/// </summary>
public class CertificateValidationSourceTests
{
    private static readonly string[] Forbidden =
    [
        "DangerousAcceptAnyServerCertificateValidator",
        "ServerCertificateCustomValidationCallback",
        "RemoteCertificateValidationCallback",
        "CertificateValidation +=",
        "AcceptablePolicyErrors",
        "TrustServerCertificate",
        "Trust Server Certificate",
        "SslMode.Require",
        "SslMode.Prefer",
    ];

    [Fact]
    public void No_product_code_or_configuration_turns_certificate_validation_off()
    {
        var roots = new[] { "services", "ServiceDefaults", "AppHost", "deploy" }.Select(d => Path.Combine(TestEnvironment.RepoRoot, d));
        var files = roots.SelectMany(r => Directory.EnumerateFiles(r, "*", SearchOption.AllDirectories))
            .Where(f => f.EndsWith(".cs", StringComparison.Ordinal) || f.EndsWith(".json", StringComparison.Ordinal))
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .ToList();

        Assert.NotEmpty(files);
        var hits = files.SelectMany(f => Forbidden.Where(File.ReadAllText(f).Contains).Select(p => $"{Path.GetRelativePath(TestEnvironment.RepoRoot, f)}: {p}")).ToList();
        Assert.Empty(hits);
    }
}

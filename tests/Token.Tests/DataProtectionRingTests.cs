using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using SecurePlatform.TestSupport;
using StackExchange.Redis;

namespace SecurePlatform.Token.Tests;

/// <summary>token-service's Data Protection key ring (which encrypts its signing keys) is protected at rest.</summary>
public sealed class DataProtectionRingTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sp-dp-").FullName;

    [Fact]
    public async Task With_a_certificate_the_ring_in_redis_holds_only_encrypted_keys_and_tokens_are_still_issued()
    {
        using var key = RSA.Create(2048);
        using var certificate = new CertificateRequest("CN=SecurePlatform data protection", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
            .CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        var certificatePath = Path.Combine(_dir, "dp.pem");
        var keyPath = Path.Combine(_dir, "dp.key");
        await File.WriteAllTextAsync(certificatePath, certificate.ExportCertificatePem());
        await File.WriteAllTextAsync(keyPath, key.ExportPkcs8PrivateKeyPem());
        var ring = "dataprotection:test-" + Guid.NewGuid().ToString("N");

        await using var token = new TokenServiceFactory("dpring", new()
        {
            ["DataProtection:CertificatePath"] = certificatePath,
            ["DataProtection:KeyPath"] = keyPath,
            ["DataProtection:RedisKey"] = ring,
        });
        var issued = await token.SignInAsync("dp-user");

        Assert.False(string.IsNullOrEmpty(issued.AccessToken));
        var entries = (await token.Redis.ListRangeAsync(ring)).Select(e => e.ToString()).ToList();
        Assert.NotEmpty(entries);
        Assert.All(entries, xml =>
        {
            Assert.Contains("EncryptedData", xml, StringComparison.Ordinal);
            Assert.Contains(Convert.ToBase64String(certificate.RawData)[..40], xml, StringComparison.Ordinal); // encrypted to this certificate
            Assert.DoesNotContain("<value>", xml, StringComparison.Ordinal); // a plaintext master key would be here
        });
        await token.Redis.KeyDeleteAsync(ring);
    }

    [Fact]
    public async Task Production_without_a_ring_certificate_refuses_to_start_naming_the_setting()
    {
        const string strong = "9f2c4e1a7b3d5f60a1c2e8d4-token";
        await using var service = ServiceProcess.Start("Token.Api", new Dictionary<string, string>
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["ConnectionStrings__tokendb"] = $"Host=127.0.0.1;Port=1;Username=postgres;Password={strong};Database=tokendb",
            ["ConnectionStrings__redis"] = $"127.0.0.1:1,password={strong}",
            ["ConnectionStrings__rabbitmq"] = $"amqp://secureplatform:{strong}@127.0.0.1:1",
            ["Token__Issuer"] = "https://token.example/",
            ["Token__ClientSecretHashKey"] = strong + "k",
            ["Clients__auth-service__Secret"] = strong + "s",
            ["Security__KnownProxies__0"] = "10.0.0.1",
        });

        var exitCode = await service.WaitForExitAsync(TimeSpan.FromSeconds(60));

        Assert.NotEqual(0, exitCode);
        Assert.Contains("DataProtection:CertificatePath", service.Output);
        Assert.DoesNotContain(strong, service.Output);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}

using SecurePlatform.TestSupport;

namespace SecurePlatform.ServiceDefaults.Tests;

/// <summary>A real service process started in Production: default secrets stop it before anything starts.</summary>
public class ProductionSecretsTests
{
    private const string StrongPassword = "9f2c4e1a7b3d5f60a1c2e8d4";

    private static Dictionary<string, string> Environment(string authDbPassword) => new()
    {
        ["ASPNETCORE_ENVIRONMENT"] = "Production",
        ["ConnectionStrings__authdb"] = $"Host=127.0.0.1;Port=1;Username=postgres;Password={authDbPassword};Database=authdb",
        ["ConnectionStrings__redis"] = $"127.0.0.1:1,password={StrongPassword}",
        ["ConnectionStrings__rabbitmq"] = $"amqp://secureplatform:{StrongPassword}@127.0.0.1:1",
        ["TokenService__ClientSecret"] = StrongPassword + "a",
        ["Bootstrap__AdminPassword"] = StrongPassword + "b",
        // Production requires HTTPS for token-service discovery (JwtBearer refuses an http authority on every request).
        ["services__token-service__https__0"] = "https://127.0.0.1:1",
        // TLS ends at this proxy (the other deployment: a certificate of its own, see TlsTests).
        ["Security__KnownProxies__0"] = "10.0.0.1",
    };

    [Theory]
    [InlineData("changeme")]
    [InlineData("postgres")]
    [InlineData("Sh0rt!")]
    public async Task A_default_or_weak_database_password_in_production_exits_non_zero_naming_the_setting(string password)
    {
        await using var service = ServiceProcess.Start("Auth.Api", Environment(password));

        var exitCode = await service.WaitForExitAsync(TimeSpan.FromSeconds(60));

        Assert.NotEqual(0, exitCode);
        Assert.Contains("ConnectionStrings:authdb", service.Output);
        Assert.DoesNotContain($"Password={password}", service.Output);
        Assert.DoesNotContain("ConnectionStrings:redis", service.Output); // the strong ones are not named
    }

    [Fact]
    public async Task Production_without_a_certificate_or_a_tls_proxy_exits_non_zero_naming_both_settings()
    {
        var environment = Environment(StrongPassword);
        environment.Remove("Security__KnownProxies__0");
        await using var service = ServiceProcess.Start("Auth.Api", environment);

        var exitCode = await service.WaitForExitAsync(TimeSpan.FromSeconds(60));

        Assert.NotEqual(0, exitCode);
        Assert.Contains("Kestrel:Certificates:Default:Path", service.Output);
        Assert.Contains("Security:KnownProxies", service.Output);
    }

    [Fact]
    public async Task Strong_secrets_in_production_start_the_service()
    {
        await using var service = ServiceProcess.Start("Auth.Api", Environment(StrongPassword));

        await service.WaitUntilAliveAsync(Platform.StartupTimeout);

        Assert.False(service.HasExited);
    }
}

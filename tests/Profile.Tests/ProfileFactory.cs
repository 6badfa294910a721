using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using SecurePlatform.Profile.Infrastructure;
using SecurePlatform.TestSupport;

namespace SecurePlatform.Profile.Tests;

/// <summary>profile-service against the real servers, its JwtBearer pointed at the test signing key.</summary>
public class ProfileFactory : WebApplicationFactory<Program>
{
    private readonly Dictionary<string, string?> _settings;

    public ProfileFactory() : this([]) { }

    internal ProfileFactory(Dictionary<string, string?> settings)
    {
        _settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:profiledb"] = TestEnvironment.UniqueDatabase("profiledb", "profile_" + Guid.NewGuid().ToString("N")[..6]),
            ["ConnectionStrings:redis"] = TestEnvironment.ConnectionString("redis"),
            ["ConnectionStrings:rabbitmq"] = TestEnvironment.ConnectionString("rabbitmq"),
            ["Auth:Authority"] = "https://token-service.test/",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (key, value) in settings)
        {
            _settings[key] = value;
        }
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Development");
        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }
        builder.ConfigureServices(services => services.UseTestTokens());
    }

    public T WithDb<T>(Func<ProfileDbContext, T> work)
    {
        using var scope = Services.CreateScope();
        return work(scope.ServiceProvider.GetRequiredService<ProfileDbContext>());
    }

    public HttpClient ClientWith(string accessToken)
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Authorization = new("Bearer", accessToken);
        return client;
    }

    public override async ValueTask DisposeAsync()
    {
        try
        {
            await using var scope = Services.CreateAsyncScope();
            await scope.ServiceProvider.GetRequiredService<ProfileDbContext>().Database.EnsureDeletedAsync();
        }
        catch (Npgsql.NpgsqlException)
        {
        }
        await base.DisposeAsync();
        GC.SuppressFinalize(this);
    }
}

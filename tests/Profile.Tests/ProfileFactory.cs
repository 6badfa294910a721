using Microsoft.Extensions.DependencyInjection;
using SecurePlatform.Profile.Infrastructure;
using SecurePlatform.TestSupport;

namespace SecurePlatform.Profile.Tests;

/// <summary>profile-service against the real servers, its JwtBearer pointed at the test signing key.</summary>
public class ProfileFactory : ServiceFactory<Program, ProfileDbContext>
{
    public ProfileFactory() : this([]) { }

    internal ProfileFactory(Dictionary<string, string?> settings)
        : base("profiledb", "profile_" + Guid.NewGuid().ToString("N")[..6], settings)
    {
        Default("Auth:Authority", "https://token-service.test/");
    }

    protected override void ConfigureTestServices(IServiceCollection services) => services.UseTestTokens();

    public HttpClient ClientWith(string accessToken)
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Authorization = new("Bearer", accessToken);
        return client;
    }
}

using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using SecurePlatform.Auth.Infrastructure;
using SecurePlatform.Auth.Model;
using SecurePlatform.Contracts;
using SecurePlatform.Messaging;
using SecurePlatform.TestSupport;

namespace SecurePlatform.Auth.Tests;

/// <summary>
/// auth-service in-process on a real Kestrel listener (so client IPs, body limits and headers are real),
/// against the shared PostgreSQL (a database of its own), Redis and RabbitMQ, with a
/// <see cref="FakeTokenService"/> behind service discovery and JwtBearer pointed at <see cref="TestTokens"/>.
/// </summary>
public class AuthApp : ServiceFactory<Program, AuthDbContext>, IAsyncLifetime
{
    public const string ClientSecret = "test-client-secret-0123456789abcdef";

    public AuthApp() : this("api")
    {
    }

    protected AuthApp(string databaseSuffix, Dictionary<string, string?>? settings = null)
        : base("authdb", databaseSuffix, settings)
    {
        Default("TokenService:ClientSecret", ClientSecret);
        Default("Database:MigrateOnStartup", "true");
        Default("Security:RequireHttps", "false");
        Default("Auth:RequireHttpsMetadata", "false");
        UseKestrel(0);
    }

    /// <summary>What token-service presents on the back channel: a client-credentials token of its own (no session, no sign-in) with the credential-check scope.</summary>
    public static string TokenServiceToken() => TestTokens.Issue(Protocol.Services.Token, roles: [], claims: new Dictionary<string, object?>
    {
        ["sid"] = null,
        ["amr"] = null,
        ["client_id"] = Protocol.Services.Token,
        ["scope"] = Protocol.CredentialCheck.Scope,
    });

    public FakeTokenService TokenService { get; private set; } = null!;

    public HttpClient Client { get; private set; } = null!;

    protected override string EnvironmentName => "Testing";

    public async Task InitializeAsync()
    {
        TokenService = await FakeTokenService.StartAsync();
        Default("services:token-service:http:0", TokenService.BaseAddress.ToString().TrimEnd('/'));
        StartServer();
        Client = CreateClient();
        // The migrator ran at start-up (Database:MigrateOnStartup); make sure the schema is there.
        await WithDbAsync(db => db.Users.AnyAsync());
    }

    protected override void ConfigureTestServices(IServiceCollection services) => services.UseTestTokens();

    public async Task<T> WithUsersAsync<T>(Func<UserManager<User>, Task<T>> work)
    {
        await using var scope = Services.CreateAsyncScope();
        return await work(scope.ServiceProvider.GetRequiredService<UserManager<User>>());
    }

    /// <summary>Rows that registration or sign-in could have written: accounts, role links, outbox events.</summary>
    public Task<(int Users, int UserRoles, int Events)> CountRowsAsync() => WithDbAsync(async db =>
        (await db.Users.CountAsync(), await db.UserRoles.CountAsync(), await db.Set<OutboxMessage>().CountAsync()));

    /// <summary>Outbox rows of one event type, newest last.</summary>
    public Task<List<OutboxMessage>> EventsAsync(string typeName) => WithDbAsync(db =>
        db.Set<OutboxMessage>().Where(m => m.Type == "SecurePlatform.Contracts." + typeName).OrderBy(m => m.Sequence).ToListAsync());

    public async Task<string> RegisterAsync(string email, string password)
    {
        var response = await Client.PostAsJsonAsync("/auth/register", new { email, password });
        var body = await HttpAssert.OkJsonAsync<JsonElement>(response);
        return body.GetProperty("id").GetString()!;
    }

    public Task<HttpResponseMessage> LoginAsync(string email, string password, object? extra = null)
    {
        var body = new Dictionary<string, object?> { ["email"] = email, ["password"] = password };
        foreach (var property in extra?.GetType().GetProperties() ?? [])
        {
            body[property.Name] = property.GetValue(extra);
        }
        return Client.PostAsJsonAsync("/auth/login", body);
    }

    public static string NewEmail(string prefix = "someone") => $"{prefix}-{Guid.NewGuid():N}@example.org";

    async Task IAsyncLifetime.DisposeAsync()
    {
        try
        {
            await DisposeAsync();
        }
        finally
        {
            await TokenService.DisposeAsync();
        }
    }
}

/// <summary>An <see cref="AuthApp"/> with a database and settings of its own (not a class fixture).</summary>
public sealed class ConfiguredAuthApp(string databaseSuffix, Dictionary<string, string?>? settings = null) : AuthApp(databaseSuffix, settings);

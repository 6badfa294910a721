using System.Net.Http.Headers;
using MassTransit;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using SecurePlatform.Audit.Infrastructure;
using SecurePlatform.TestSupport;

namespace SecurePlatform.Audit.Tests;

/// <summary>
/// audit-service in process (WebApplicationFactory) against the real servers: a database of its own for this
/// run and a queue of its own (so hosts of other tests in the same vhost never take its messages).
/// Two hosts built with the same <paramref name="name"/> share database and queue: replicas.
/// </summary>
public sealed class AuditHost(string name, IReadOnlyDictionary<string, string>? infra = null, IReadOnlyDictionary<string, string?>? settings = null)
    : WebApplicationFactory<Program>
{
    public static string AdminToken { get; } = TestTokens.Issue("admin-" + Guid.NewGuid().ToString("N"), roles: ["admin"]);

    public string Name { get; } = name;

    public string QueueName => $"audit-events-{Name}-{TestEnvironment.RunId}";

    /// <summary>The database owner's connection string (no SET ROLE): what a DBA, or an attacker with the owner's password, has.</summary>
    public string OwnerConnectionString { get; } = TestEnvironment.UniqueDatabase("auditdb", name, infra);

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Development");
        builder.UseSetting("ConnectionStrings:auditdb", OwnerConnectionString);
        builder.UseSetting("ConnectionStrings:redis", infra?["redis"] ?? TestEnvironment.ConnectionString("redis"));
        builder.UseSetting("ConnectionStrings:rabbitmq", infra?["rabbitmq"] ?? TestEnvironment.ConnectionString("rabbitmq"));
        builder.UseSetting("Audit:Ingest:QueueName", QueueName);
        builder.UseSetting("Auth:Authority", TestTokens.Issuer);
        builder.UseSetting("Logging:LogLevel:Default", "Warning");
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            builder.UseSetting(key, value);
        }
        builder.ConfigureServices(services => services.UseTestTokens());
    }

    public HttpClient ClientWithToken(string? token)
    {
        var client = CreateClient();
        if (token is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        return client;
    }

    public HttpClient AdminClient() => ClientWithToken(AdminToken);

    public IBus Bus => Services.GetRequiredService<IBus>();

    public AuditWriter Writer => Services.GetRequiredService<AuditWriter>();

    /// <summary>Starts the host (migrations, bus) and waits until its queue is consuming.</summary>
    public async Task<AuditHost> StartAsync()
    {
        _ = Services;
        var bus = Services.GetRequiredService<IBusControl>();
        await Eventually.HoldsAsync(() => Task.FromResult(bus.CheckHealth().Status == BusHealthStatus.Healthy), TimeSpan.FromSeconds(60), $"audit bus of {Name} healthy");
        return this;
    }

    public async Task<T> OwnerAsync<T>(Func<NpgsqlConnection, Task<T>> work)
    {
        await using var connection = new NpgsqlConnection(OwnerConnectionString);
        await connection.OpenAsync();
        return await work(connection);
    }

    public Task<long> OwnerScalarAsync(string sql, params object[] parameters) => OwnerAsync(async connection =>
    {
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    });

    /// <summary>How many rows hold <paramref name="subject"/>.</summary>
    public Task<long> CountAsync(string subject) => OwnerScalarAsync("SELECT count(*) FROM audit_events WHERE subject = $1", subject);

    public Task WaitForCountAsync(string subject, long expected, TimeSpan? timeout = null) =>
        Eventually.HoldsAsync(async () => await CountAsync(subject) >= expected, timeout ?? TimeSpan.FromSeconds(60), $"{expected} audit rows for {subject}");
}

using System.Net.Http.Headers;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using SecurePlatform.Audit.Infrastructure;
using SecurePlatform.Contracts;
using SecurePlatform.TestSupport;

namespace SecurePlatform.Audit.Tests;

/// <summary>
/// audit-service in process (WebApplicationFactory) against the real servers: a database of its own for this
/// run and a queue of its own (so hosts of other tests in the same vhost never take its messages).
/// Two hosts built with the same <paramref name="name"/> share database and queue: replicas.
/// </summary>
public sealed class AuditHost : ServiceFactory<Program, AuditDbContext>
{
    public AuditHost(string name, IReadOnlyDictionary<string, string>? infra = null, IReadOnlyDictionary<string, string?>? settings = null)
        : base("auditdb", name, settings, infra)
    {
        Name = name;
        Default("Audit:Ingest:QueueName", QueueName);
        Default("Auth:Authority", TestTokens.Issuer);
        // Replicas share one database: the last one out drops it (the run's clean-up catches the rest).
        KeepDatabase = true;
    }

    public static string AdminToken { get; } = TestTokens.Issue("admin-" + Guid.NewGuid().ToString("N"), roles: ["admin"], amr: ["pwd", "otp", "mfa"]);

    public string Name { get; }

    public string QueueName => $"audit-events-{Name}-{TestEnvironment.RunId}";

    /// <summary>The database owner's connection string (no SET ROLE): what a DBA, or an attacker with the owner's password, has.</summary>
    public string OwnerConnectionString => DatabaseConnectionString;

    protected override void ConfigureTestServices(IServiceCollection services) => services.UseTestTokens();

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

    /// <summary>
    /// Sends a batch to this host's own queue only. Poison messages must go this way: published to the exchange,
    /// they would reach every audit host of the run (one queue each, all bound) and land in their error queues too.
    /// </summary>
    public async Task SendToOwnQueueAsync(IntegrationEventBatch batch)
    {
        var endpoint = await Bus.GetSendEndpoint(new Uri($"queue:{QueueName}"));
        await endpoint.Send(batch);
    }

    public AuditWriter Writer => Services.GetRequiredService<AuditWriter>();

    /// <summary>Starts the host (migrations, bus) and waits until its queue is consuming.</summary>
    public async Task<AuditHost> StartAsync()
    {
        await WaitForBusAsync();
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
